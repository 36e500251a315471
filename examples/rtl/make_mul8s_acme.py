"""Writes mul8s_acme.v: an 8 x 8 signed approximate multiplier as a flat gate-level netlist, in the
style of third-party approximate-arithmetic libraries (ports A, B, O; one `assign` per gate on
numbered wires; no hierarchy). It is the example RTL of the README's main job (``opmodels import``).

The circuit: Baugh-Wooley partial products of A x B (two's complement), the bits a_i & b_j of the
columns i + j < 5 left out (truncation), the rest reduced column by column with full and half adders
(Dadda-style) and a final ripple-carry adder. So O = A*B - sum_{i+j<5} a_i b_j 2^(i+j), mod 2^16.

    python examples/rtl/make_mul8s_acme.py   # rewrites examples/rtl/mul8s_acme.v
"""
from pathlib import Path

N, DROP = 8, 5


class Netlist:
    def __init__(self):
        self.lines, self.count = [], 0

    def wire(self, expression: str) -> str:
        name = f"sig_{self.count}"
        self.count += 1
        self.lines.append((name, expression))
        return name


def build() -> tuple[list, dict]:
    gates = Netlist()
    columns = {c: [] for c in range(2 * N)}
    for i in range(N):
        for j in range(N):
            if i + j < DROP:
                continue
            bit = gates.wire(f"A[{i}] & B[{j}]")
            if (i == N - 1) != (j == N - 1):  # Baugh-Wooley: the mixed-sign products are inverted
                bit = gates.wire(f"~{bit}")
            columns[i + j].append(bit)
    columns[N].append("1'b1")          # the Baugh-Wooley constants 2^n + 2^(2n-1)
    columns[2 * N - 1].append("1'b1")
    # Dadda-style reduction: full adders while a column has 3 bits or more, half adders at 2 when the
    # next column would overflow, until every column has at most 2 bits.
    while any(len(bits) > 2 for bits in columns.values()):
        for c in range(2 * N):
            bits = columns[c]
            while len(bits) > 2:
                x, y, z = bits.pop(0), bits.pop(0), bits.pop(0)
                xy = gates.wire(f"{x} ^ {y}")
                bits.append(gates.wire(f"{xy} ^ {z}"))
                carry = gates.wire(f"({x} & {y}) | ({z} & {xy})")
                if c + 1 < 2 * N:
                    columns[c + 1].append(carry)
    outputs, carry = {}, None
    for c in range(2 * N):  # ripple-carry adder of the two remaining rows
        bits = columns[c] + ([carry] if carry else [])
        if not bits:
            outputs[c], carry = "1'b0", None
        elif len(bits) == 1:
            outputs[c], carry = bits[0], None
        elif len(bits) == 2:
            outputs[c] = gates.wire(f"{bits[0]} ^ {bits[1]}")
            carry = gates.wire(f"{bits[0]} & {bits[1]}")
        else:
            xy = gates.wire(f"{bits[0]} ^ {bits[1]}")
            outputs[c] = gates.wire(f"{xy} ^ {bits[2]}")
            carry = gates.wire(f"({bits[0]} & {bits[1]}) | ({bits[2]} & {xy})")
    return gates.lines, outputs


def verilog() -> str:
    lines, outputs = build()
    text = [f"// mul8s_acme: {N} x {N} signed approximate multiplier, partial products of columns < {DROP} truncated",
            "// ACME approximate arithmetic cells (an example library written for opmodels; flat gate netlist)",
            "module mul8s_acme(A, B, O);",
            f"  input [{N - 1}:0] A;", f"  input [{N - 1}:0] B;", f"  output [{2 * N - 1}:0] O;"]
    text += [f"  wire {name};" for name, _ in lines]
    text += [f"  assign {name} = {expression};" for name, expression in lines]
    text += [f"  assign O[{c}] = {bit};" for c, bit in outputs.items()]
    return "\n".join(text + ["endmodule"]) + "\n"


if __name__ == "__main__":
    Path(__file__).with_name("mul8s_acme.v").write_text(verilog())
