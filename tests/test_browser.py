"""A real browser (Debian's Chromium, headless, driven by Playwright) against `python app.py`, at a
laptop's size (1280×900) and a phone's (390×844): draw, upload, examples, the "is this a digit?"
notice, a live session with its legend and the runs compared, the feature space following the
controls, results as charts, the lesson, every tab reachable on a phone with nothing wider than it,
and a server log without tracebacks for the expected rejections.

Screenshots go to test-artifacts/screenshots/; with DA_DEMO_UPDATE_SCREENSHOTS=1 the README's
copies in tests/screenshots/ are refreshed too (they show drawn digits only, no dataset images).
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts" / "screenshots"
README_SHOTS = REPO / "tests" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="needs Debian's chromium (apt-get install chromium)"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(data_dir):
    port = free_port()
    env = {
        **os.environ,
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "DA_DEMO_DATA_DIR": str(data_dir),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "PYTHONUNBUFFERED": "1",
    }
    log = open(tempfile.mktemp(suffix=".log"), "w+")
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "app.py"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(480):
            try:
                if urllib.request.urlopen(url, timeout=1).status == 200:
                    break
            except OSError:
                if process.poll() is not None:
                    log.seek(0)
                    pytest.fail(f"app.py exited:\n{log.read()[-3000:]}")
                time.sleep(0.25)
        else:
            pytest.fail("app.py did not serve its page within 120 s")
        print(f"\napp.py served its first page {time.perf_counter() - started:.1f} s after start")
        yield url, Path(log.name)
    finally:
        process.terminate()
        process.wait(timeout=20)


def open_page(driver, url: str, viewport: dict):
    context = driver.chromium.launch_persistent_context(
        tempfile.mkdtemp(), executable_path=CHROMIUM, headless=True, args=ARGS, viewport=viewport
    )
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("#pad canvas")
    return context, page


@pytest.fixture(scope="module")
def driver():
    playwright_api.expect.set_options(timeout=30_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def page(server, driver):
    context, page = open_page(driver, server[0], DESKTOP)
    yield page
    context.close()


@pytest.fixture(scope="module")
def phone(server, driver):
    context, page = open_page(driver, server[0], PHONE)
    yield page
    context.close()


def shoot(page, name: str, clip_to: str | None = None) -> None:
    """Save a screenshot (of the page, or down to the bottom of the element ``clip_to``)."""
    path = ARTIFACTS / f"{name}.png"
    if clip_to:
        box = page.locator(clip_to).bounding_box()
        width = page.viewport_size["width"]
        page.screenshot(
            path=path,
            full_page=True,
            clip={"x": 0, "y": 0, "width": width, "height": box["y"] + box["height"] + 12},
        )
    else:
        page.screenshot(path=path, full_page=True)
    if os.environ.get("DA_DEMO_UPDATE_SCREENSHOTS") == "1":
        README_SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, README_SHOTS / path.name)


def hide_photo_tiles(page) -> None:
    """The MNIST-M style puts the digit over a crop of a BSDS500 photo, not ours to redistribute:
    screenshots show that tile hidden."""
    page.evaluate("""() => document.querySelectorAll('#styles button').forEach(tile => {
        if (tile.textContent.includes('MNIST-M')) tile.querySelectorAll('img').forEach(img => {
            img.style.visibility = 'hidden'; }); })""")


def hide(page, selector: str) -> None:
    page.evaluate(f"() => document.querySelectorAll('{selector}').forEach(node => node.style.visibility = 'hidden')")


def draw_seven(page) -> None:
    canvas = page.locator("#pad canvas").first
    page.wait_for_timeout(1500)  # the white background loads a moment after the canvas
    box = canvas.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    scale = box["width"] / 280
    page.mouse.move(x - 60 * scale, y - 70 * scale)
    page.mouse.down()
    page.mouse.move(x + 60 * scale, y - 70 * scale, steps=4)
    page.mouse.move(x - 10 * scale, y + 80 * scale, steps=4)
    page.mouse.up()


def draw_one(page) -> None:
    """One vertical stroke, drawn at once (no wait for a background)."""
    box = page.locator("#pad canvas").first.bounding_box()
    x, y, scale = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, box["width"] / 280
    page.mouse.move(x, y - 90 * scale)
    page.mouse.down()
    page.mouse.move(x, y + 90 * scale, steps=6)
    page.mouse.up()


def picture(path: Path, text: str | None = None, noise: bool = False) -> str:
    if noise:
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)).save(path)
    else:
        image = Image.new("RGB", (200, 200), "white")
        ImageDraw.Draw(image).text((40, 10), text, fill="black", font_size=170)
        image.save(path)
    return str(path)


def first_prediction(page):
    return page.locator("#predictions tbody tr").first.locator(".da-pred b").first


def test_draw_and_predict_says_which_input(page):
    expect = playwright_api.expect
    draw_seven(page)
    page.click("#btn_predict_drawing")
    expect(page.locator("#try_status")).to_contain_text(
        re.compile(r"Predictions for your drawing · \d+ models")
    )
    expect(page.locator("#predictions thead img.da-thumb")).to_have_count(2)  # each input beside the table
    expect(first_prediction(page)).to_have_text("7")  # the source-only model reads a clear 7
    hide_photo_tiles(page)
    shoot(page, "try-it", clip_to="#predictions")


def test_the_canvas_draws_again_after_its_trash_button(page):
    expect = playwright_api.expect
    page.click("#tab-try-button")
    draw_seven(page)
    # an emptied Sketchpad has no tool selected, so strokes did nothing; the browser now picks the brush
    # again itself (no trip to the server, which could paint over strokes drawn before it answered)
    page.locator("#pad button[aria-label='Clear canvas']").click()
    page.wait_for_timeout(100)
    draw_one(page)
    page.click("#btn_predict_drawing")
    # the previous test left the same words there: wait for this prediction to end (its progress
    # text goes), so the next test does not upload while it is still running
    page.wait_for_timeout(500)
    expect(page.locator("#try_status .progress-text")).to_have_count(0, timeout=60_000)
    expect(page.locator("#try_status")).to_contain_text("Predictions for your drawing")
    expect(first_prediction(page)).to_have_text("1")  # the new strokes alone, on a white page


def test_upload_replaces_the_drawing_and_noise_gets_a_notice(page, tmp_path):
    expect = playwright_api.expect
    page.locator("#upload input[type=file]").set_input_files(picture(tmp_path / "three.png", "3"))
    expect(page.locator("#try_status")).to_contain_text("Predictions for your upload (three.png)")
    expect(first_prediction(page)).to_have_text("3")
    expect(page.locator("#try_status")).not_to_contain_text("does not look like a digit")
    page.reload()
    page.wait_for_selector("#pad canvas")
    page.locator("#upload input[type=file]").set_input_files(picture(tmp_path / "static.png", noise=True))
    expect(page.locator("#try_status")).to_contain_text("does not look like a digit")
    expect(page.locator("#predictions table")).to_be_visible()  # predictions are still shown


def test_a_non_image_upload_gets_a_message(page, tmp_path):
    expect = playwright_api.expect
    bogus = tmp_path / "notes.png"
    bogus.write_bytes(b"definitely not a picture")
    page.reload()  # the upload box holds the previous picture: start from an empty one
    page.wait_for_selector("#pad canvas")
    page.locator("#upload input[type=file]").set_input_files(str(bogus))
    expect(page.locator("#try_status")).to_contain_text("not a readable image")


def test_examples_are_captioned_and_a_target_example_is_shown_as_it_is(page):
    expect = playwright_api.expect
    expect(page.locator("#examples")).to_contain_text("MNIST · 7")
    expect(page.locator("#examples")).to_contain_text("USPS · 7")
    page.locator("#examples button.thumbnail-item").nth(17).click()  # the USPS 7
    expect(page.locator("#try_status")).to_contain_text("Predictions for the USPS test digit, label 7")
    expect(page.locator("#styles")).to_contain_text("already in the target's style")
    expect(page.locator("#styles img")).to_have_count(1)


def test_a_live_session_streams_a_readable_legend_stops_and_compares_runs(page):
    expect = playwright_api.expect
    page.click("#tab-adapt-button")
    steps = page.locator("#adapt_steps input[type=number]")
    steps.fill("2000")
    steps.press("Enter")
    page.click("#btn_start")
    status = page.locator("#adapt_status textarea")
    # the first run of a training worker may wait for it to load the pair's data
    expect(status).to_have_value(re.compile(r"step \d+/2000"), timeout=120_000)
    first = status.input_value()
    expect(status).not_to_have_value(first)  # the run moves on: the curves are streaming
    expect(page.locator("#accuracy_plot img")).to_be_visible()
    expect(page.locator("#loss_plot img")).to_be_visible()
    # every line in the legend has a plain name, explained below the plots
    expect(page.locator("#adapt_glossary")).to_contain_text("target test")
    expect(page.locator("#adapt_glossary")).to_contain_text("source classification loss")
    expect(page.locator("#adapt_glossary")).to_contain_text("domain classifier")
    expect(page.locator("#adapt_weight")).to_contain_text("Gradient-reversal strength λ")  # not lambda_max
    shoot(page, "adapt-running")
    page.click("#btn_stop")
    expect(status).to_have_value(re.compile(r"^stopped by you: \d+ steps"))
    expect(page.locator("#adapt_download a").first).to_be_visible()
    expect(page.locator("#runs_plot img")).to_be_visible()  # the finished run joins the comparison
    expect(page.locator("#adapt_runs_choice")).to_be_visible()  # ...and its model can be chosen again later
    shoot(page, "adapt")


def test_feature_space_follows_the_controls_and_lists_your_model(page):
    expect = playwright_api.expect
    page.click("#tab-features-button")
    # the visitor's own model is projected on demand (UMAP of 2,000 features): slower on a busy machine
    expect(page.locator("#features_plot img")).to_be_visible(timeout=120_000)
    expect(page.locator("#alignment_table")).to_contain_text("domain-classifier accuracy", timeout=120_000)
    expect(page.locator("#transport_table")).to_contain_text("plan mass on same-class pairs")
    page.click("#features_method input")
    expect(page.get_by_role("option", name="DANN (gradient reversal) (yours)")).to_be_visible()
    expect(page.get_by_role("option", name="DANN (gradient reversal)", exact=True)).to_be_visible()
    page.keyboard.press("Escape")
    before = page.locator("#features_plot img").get_attribute("src")
    page.get_by_label("By domain (source / target)").check()
    page.wait_for_function(  # the picture is redrawn (its data URL is too long to pass to expect)
        "before => document.querySelector('#features_plot img')?.src !== before", arg=before, timeout=60_000
    )
    shoot(page, "feature-space")
    table = page.locator("#transport_table").inner_text()
    page.click("#pair input")
    page.get_by_role("option", name="MNIST → Noisy MNIST").click()
    expect(page.locator("#transport_table")).not_to_have_text(table, timeout=120_000)  # no stale pair
    page.click("#pair input")
    page.get_by_role("option", name="MNIST → USPS").click()


def test_results_are_charts_with_the_table_below_and_the_selection_view(page):
    expect = playwright_api.expect
    page.click("#tab-results-button")
    expect(page.locator("#results_chart img")).to_be_visible()
    expect(page.locator("#results_table table")).to_contain_text("Source only")
    expect(page.locator("#results_table")).not_to_contain_text("Noisy")  # only the chosen pair's rows
    # the pair was switched to noisy MNIST and back on another tab: the table is MNIST → USPS's
    expect(page.locator("#results_table")).to_contain_text("74.1 (lecture)", timeout=60_000)
    expect(page.locator("#results_table")).not_to_contain_text("goal")
    expect(page.locator("#results_protocol")).to_contain_text("without target labels")
    for part in ("#results_chart", "#results_table", "#selection_plot"):  # drawn, not still processing
        expect(page.locator(part)).not_to_contain_text("processing", timeout=60_000)
    shoot(page, "results")


def test_learn_and_the_guided_lesson(page):
    expect = playwright_api.expect
    page.click("#tab-learn-button")
    expect(page.locator("#learn_source_only")).to_contain_text("baseline")
    expect(page.locator(".katex").first).to_be_visible()  # formulas are typeset
    expect(page.get_by_role("button", name=re.compile("SHOT \\(source-free\\)"))).to_be_visible()
    page.click("#tab-lesson-button")
    shoot(page, "lesson")
    page.click("#lesson_step_1")
    expect(page.locator("#tab-try-button")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#try_status")).to_contain_text("Predictions for the MNIST test digit, label 7")
    page.click("#tab-lesson-button")
    page.click("#lesson_step_2")  # switches to MNIST → MNIST-M: step 3 must still set 600 steps
    expect(page.locator("#try_status")).to_contain_text("MNIST-M")
    # the short runs of steps 3 and 5, and step 8's strongest method with its label-free settings
    for step, method, steps in ((3, "DANN", "600"), (5, "MMD", "600"), (8, "Self-ensembling", "2500")):
        page.click("#tab-lesson-button")
        page.click(f"#lesson_step_{step}")
        expect(page.locator("#tab-adapt-button")).to_have_attribute("aria-selected", "true")
        expect(page.locator("#adapt_method input")).to_have_value(re.compile(method))
        page.wait_for_timeout(2000)  # a late refresh after the pair change must not undo the preset
        expect(page.locator("#adapt_steps input[type=number]")).to_have_value(steps)


def test_on_a_phone_every_tab_is_reachable_and_nothing_is_wider_than_the_screen(phone):
    expect = playwright_api.expect
    for tab in ("try", "translate", "adapt", "features", "results", "learn", "lesson"):
        expect(phone.locator(f"#tab-{tab}-button")).to_be_visible()
    draw_seven(phone)
    phone.click("#btn_predict_drawing")
    expect(phone.locator("#try_status")).to_contain_text("Predictions for your drawing")
    table = phone.locator("#predictions .da-scroll")
    assert table.evaluate("node => node.scrollWidth <= node.clientWidth + 1"), (
        "the prediction table is clipped"
    )
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    cut = phone.evaluate(  # every class's bar inside its cell: none hidden behind the cell's edge
        """() => [...document.querySelectorAll('#predictions .da-bars')].filter(bars => {
            const cell = bars.closest('td').getBoundingClientRect();
            return bars.lastElementChild.getBoundingClientRect().right > cell.right + 0.5; }).length"""
    )
    assert cut == 0, f"{cut} prediction cells cut off their last bars"
    tiles = phone.locator("#examples button.thumbnail-item")
    first_row = tiles.evaluate_all("nodes => nodes.filter(n => n.offsetTop === nodes[0].offsetTop).length")
    assert first_row >= 5, f"only {first_row} example digits a row on a phone"
    hide_photo_tiles(phone)
    shoot(phone, "phone-try-it", clip_to="#predictions")
    phone.click("#tab-results-button")
    expect(phone.locator("#results_chart img")).to_be_visible()
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    assert phone.evaluate("() => document.documentElement.scrollHeight") < 6000, "the Results tab is too tall"
    results = phone.locator("#results_table .da-scroll")
    assert results.evaluate("node => node.scrollWidth <= node.clientWidth + 1"), "the Results table scrolls sideways"
    shoot(phone, "phone-results")
    phone.click("#tab-adapt-button")
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    # a lesson step's button is a real button, and the page scrolls to what it set up
    phone.click("#tab-lesson-button")
    phone.locator("#lesson_step_6").scroll_into_view_if_needed()
    assert phone.locator("#lesson_step_6").evaluate("node => node.tagName") == "BUTTON"
    phone.click("#lesson_step_6")
    expect(phone.locator("#selection_plot")).to_be_in_viewport(timeout=15_000)
    phone.click("#tab-learn-button")
    formulas = phone.locator(".katex-display")
    expect(formulas.first).to_be_visible()
    wider = formulas.evaluate_all(
        "nodes => nodes.filter(node => node.getBoundingClientRect().right > window.innerWidth + 1).length"
    )
    assert wider == 0, f"{wider} formulas run past the screen's edge"


def test_expected_rejections_leave_one_log_line_and_no_traceback(server, tmp_path):
    """The bad-input battery, through the API and the page's own handlers, then the server's log."""
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    url, log = server
    client = Client(url, verbose=False)
    blank = tmp_path / "blank.png"
    Image.new("RGBA", (300, 300), (0, 0, 0, 0)).save(blank)
    bogus = tmp_path / "notes.png"
    bogus.write_bytes(b"not an image")
    for path in (blank, bogus):
        with pytest.raises(AppError):
            client.predict(handle_file(str(path)), "mnist-usps", api_name="/predict")
    status, *_ = client.predict("mnist-usps", "dann", {"steps": 30, "lr": 5.0}, api_name="/adapt")
    assert status.startswith("Not started")
    time.sleep(1)
    text = log.read_text()
    assert "Traceback" not in text, _first_traceback(text)
    assert text.count("rejected:") >= 3


def _first_traceback(text: str) -> str:
    """The log's first traceback, shortened to the lines that matter: what was logged before it, and
    from its last frame to the exception (Starlette's middleware frames in between say nothing)."""
    start = text.find("Traceback")
    lines = text[start:].splitlines()
    end = next(
        (i for i, line in enumerate(lines[1:], 1) if line and not line.startswith(" ")), len(lines) - 1
    )
    return "\n".join(text[:start].splitlines()[-5:] + ["..."] + lines[max(1, end - 6) : end + 3])


def test_a_teacher_opens_a_class_and_a_student_on_a_phone_joins_by_link_and_trains_their_seat(
    server, driver, page
):
    expect = playwright_api.expect
    page.click("#tab-lesson-button")
    page.get_by_text("Teaching a class?").click()
    page.click("#class_open")
    link = page.locator("#class_link input, #class_link textarea").first
    expect(link).to_have_value(re.compile(r"\?class=[A-Z2-9]{5}$"))
    code = link.input_value()[-5:]
    context, student = open_page(driver, link.input_value(), PHONE)
    try:
        student.click("#tab-lesson-button")
        expect(student.locator("#class_code input, #class_code textarea").first).to_have_value(code)
        student.locator("#class_nickname input, #class_nickname textarea").first.fill("Ada")
        student.click("#class_join")
        expect(student.locator("#class_status")).to_contain_text(f"You are Ada in class {code}")
        student.click("#lesson_step_5")  # the race: the student's own seat of the class's grid
        expect(student.locator("#tab-adapt-button")).to_have_attribute("aria-selected", "true")
        expect(student.locator("#adapt_steps input[type=number]")).to_have_value("100")
        student.click("#btn_start")
        status = student.locator("#adapt_status textarea")
        expect(status).to_have_value(re.compile(f"joined class {code}'s board as Ada's run"), timeout=180_000)
        student.click("#tab-lesson-button")
        student.click("#lesson_step_6")  # choosing without labels, with the class's own runs
        expect(student.locator("#class_board img")).to_be_visible()
        expect(student.locator("#class_summary")).to_contain_text("1 run")
        shoot(student, "phone-class-board")
        # the teacher's board picks the run up by itself
        expect(page.locator("#class_summary")).to_contain_text("1 run", timeout=20_000)
        expect(page.locator("#class_board img")).to_be_visible()
        shoot(page, "class-board")
    finally:
        context.close()


def your_domain_in_the_other_tabs(page) -> None:
    """The pair menu's "your domain" is the Shift tab's recipe: Try it shows its examples and the
    visitor's model of it, Feature space projects it, Translate and Results say what they have."""
    expect = playwright_api.expect
    page.click("#pair input")
    page.get_by_role("option", name="MNIST → your domain (Shift tab)").click()
    page.click("#tab-try-button")
    expect(page.locator("#examples")).to_contain_text("your domain · 7", timeout=60_000)
    page.locator("#examples button.thumbnail-item").nth(17).click()  # the built 7
    table = page.locator("#predictions")
    expect(table).to_contain_text("DANN (gradient reversal) (yours)", timeout=60_000)
    expect(table).to_contain_text("Source only")
    expect(page.locator("#try_status")).to_contain_text("Your domain: rotation 45°")
    hide(page, "#examples img, #styles img, #model_view img, #predictions img")  # MNIST digits, shifted
    shoot(page, "your-domain-try-it")
    page.click("#tab-features-button")
    expect(page.locator("#alignment_table")).to_contain_text("DANN (gradient reversal) (yours)", timeout=120_000)
    expect(page.locator("#features_plot img")).to_be_visible()
    page.click("#tab-translate-button")
    expect(page.locator("#translate_status")).to_contain_text("Your own domain has no CycleGAN")
    page.click("#tab-results-button")
    expect(page.locator("#results_table")).to_contain_text("Your own domain has no shipped models", timeout=60_000)
    expect(page.locator("#results_shift_study img")).to_be_visible()
    shoot(page, "your-domain-results")
    page.click("#pair input")
    page.get_by_role("option", name="MNIST → USPS").click()
    page.click("#tab-shift-button")


def test_a_student_builds_a_shift_sees_what_it_costs_and_shares_it_as_a_link(server, driver, page):
    expect = playwright_api.expect
    page.click("#tab-shift-button")
    summary = page.locator("#shift_summary")
    expect(summary).to_contain_text("Source-only model on your domain", timeout=60_000)
    page.locator("#shift_preset input").fill("rotated 45°")
    page.locator("#shift_preset input").press("Enter")
    expect(page.locator("#shift_recipe")).to_contain_text('"rotation": 45')
    expect(summary).to_contain_text("the shift costs", timeout=60_000)
    expect(page.locator("#shift_preview img")).to_be_visible()
    link = page.locator("#shift_link input, #shift_link textarea").first
    expect(link).to_have_value(re.compile(r"\?shift=%7B%22rotation%22%3A%2045"))
    steps = page.locator("#shift_steps input[type=number]")
    steps.fill("20")
    steps.press("Enter")
    page.click("#shift_start")  # adapt to the built domain, live
    status = page.locator("#shift_status textarea")
    expect(status).to_have_value(re.compile(r"^done: 20 steps"), timeout=180_000)
    expect(page.locator("#shift_curves img")).to_be_visible()
    hide(page, "#shift_preview img")  # MNIST test digits: not ours to redistribute in screenshots
    shoot(page, "shift", clip_to="#shift_seed")
    your_domain_in_the_other_tabs(page)
    context, student = open_page(driver, server[0] + '?shift={"rotation": 180, "noise": 0.2}', PHONE)
    try:
        student.click("#tab-shift-button")
        expect(student.locator("#shift_rotation input[type=number]")).to_have_value("180")
        expect(student.locator("#shift_summary")).to_contain_text("the shift costs", timeout=60_000)
        assert student.evaluate("document.documentElement.scrollWidth") <= 390 + 1
        hide(student, "#shift_preview img")
        shoot(student, "phone-shift", clip_to="#shift_seed")
    finally:
        context.close()
