"""cocotb test modules, imported by the simulator's Python by their qualified names
(``opmodels.verification.benches.comb``, ``...mac``); they import cocotb, so nothing else imports them."""
