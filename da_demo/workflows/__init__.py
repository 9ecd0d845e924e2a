"""Where the pieces are put together, once, for every caller: train method M on pair P (finding or
training the model it starts from, saving the result), pretrain the shipped checkpoints, and
compute the Feature space tab's projection cache. The CLI, the app and the benchmarks call these;
nothing below them imports this package.
"""
