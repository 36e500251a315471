// Unsigned 8 x 8 multiplier that ignores the LSB of its multiplier operand, written with the
// operand roles the other way round from the opmodels operator TRUNC8U (a * (b & ~1)): here the
// multiplier is port A. Verified with --port-a A --port-b B it must be reported as swapped.
module mul8u_trunc (input [7:0] A, input [7:0] B, output [15:0] O);
  assign O = B * {A[7:1], 1'b0};
endmodule
