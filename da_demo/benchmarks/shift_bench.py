"""How fast a built domain is: ``python -m da_demo.benchmarks.shift_bench``.

For every preset of the Shift tab (``data.shift.PRESETS``), on one CPU thread as a visitor's request
gets it: the preview grid of a changed recipe (the goal: ≤ 1 s), building 10,000 target digits (the
goal: ≤ 2 s), and measuring what the shift costs (the source-only model on 2,000 built digits, the
domain classifier and MMD), with the accuracy it reports.
"""

from __future__ import annotations

import argparse
import os
import time

from ..reporting import format_markdown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m da_demo.benchmarks.shift_bench", description=__doc__)
    parser.add_argument("--data-dir", default=os.environ.get("DA_DEMO_DATA_DIR"))
    parser.add_argument("--repeats", type=int, default=3, help="best of this many timings")
    args = parser.parse_args(argv)

    import torch

    from ..data.shift import BASE_PAIRS, PRESETS, build_shifted
    from ..ui.appdata import AppData
    from ..ui.zoo import ModelZoo
    from ..workflows.shifting import measure_shift, preview

    torch.set_num_threads(1)
    data, zoo = AppData(args.data_dir), ModelZoo()
    photos = data.photos()
    rows, ok = [], True
    for name, recipe in PRESETS.items():
        pair = BASE_PAIRS[recipe.channels]
        test = data.pair(pair).source_test
        model = next(entry for entry in zoo.pair(pair).models if entry.method == "source_only").model
        digits = test.images[:10_000, :1]

        def best(work):
            times = []
            for _ in range(args.repeats):
                started = time.perf_counter()
                result = work()
                times.append(time.perf_counter() - started)
            return min(times), result

        shown, _ = best(lambda: preview(recipe, test, photos))  # noqa: B023 - timed now, in this iteration
        built, _ = best(lambda: build_shifted(digits, test.labels[:10_000], recipe, seed=2, photos=photos))  # noqa: B023
        measured, summary = best(lambda: measure_shift(recipe, test, model, photos))  # noqa: B023
        ok = ok and shown <= 1.0 and built <= 2.0
        rows.append(
            [
                name,
                f"{1000 * shown:.0f}",
                f"{1000 * built:.0f}",
                f"{1000 * measured:.0f}",
                f"{100 * summary.shifted_acc:.1f} (MNIST {100 * summary.mnist_acc:.1f})",
                f"{100 * summary.domain_acc:.0f}",
            ]
        )
    print(
        format_markdown(
            ["preset", "preview (ms)", "build 10,000 (ms)", "measure (ms)", "source-only acc. %", "domain clf. %"],
            rows,
        )
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
