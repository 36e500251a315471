"""Bring your own operator: a signed array multiplier with its low product columns truncated.

    opmodels show --from examples.truncated_array:trunc6
    opmodels gen-lut --from examples.truncated_array:trunc6 -o luts/
"""
from opmodels import Operator, dsl


def truncated_array(width: int = 8, t: int = 6) -> Operator:
    """A width x width signed array multiplier that drops every partial-product bit in columns < t."""

    def build(a, b):
        n2 = 2 * width
        a_ext, b_ext = a.sext(n2), b.sext(n2)          # signed operands, product computed modulo 2^2n
        keep = dsl.const(-(1 << t), n2, signed=True)   # ones in columns >= t
        product = None
        for i in range(n2):                            # row i: a shifted by i, gated by bit i of b
            row = ((a_ext << i) & b_ext[i].replicate(n2).as_signed() & keep).named(f"pp{i}")
            product = row if product is None else product + row
        return product

    return Operator.from_function(f"TRUNC{t}W{width}", "multiplier", width, build, family="TruncArray",
                                  params={"width": width, "t": t},
                                  structure=f"array multiplier, partial-product columns < {t} dropped")


trunc6 = truncated_array(8, 6)
