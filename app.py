"""Domain Adaptation Playground: build the Gradio app and serve it (locally, or as a Hugging Face Space)."""

import os

if os.environ.get("SPACES_ZERO_GPU"):  # a ZeroGPU Space: `spaces` must be imported before torch touches CUDA
    import spaces  # noqa: F401

from da_demo.ui import build_demo, configure_logging, configure_serving, launch_options

if __name__ == "__main__":
    configure_logging()  # before the warm-up starts logging
demo = build_demo(warm_up=__name__ == "__main__")

if __name__ == "__main__":
    configure_serving()
    demo.launch(**launch_options())
