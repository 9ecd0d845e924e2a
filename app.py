"""Domain Adaptation Playground: build the Gradio app and serve it (locally or as a Space)."""

import gradio as gr

from da_demo import __version__

with gr.Blocks(title="Domain Adaptation Playground") as demo:
    gr.Markdown(
        f"# Domain Adaptation Playground {__version__}\n"
        "The interactive tabs are being built. Meanwhile, train and compare methods from the command line: "
        "`python -m da_demo train --pair mnist-usps --method dann`."
    )

if __name__ == "__main__":
    demo.launch()
