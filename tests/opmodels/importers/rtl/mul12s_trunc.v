// Signed 12 x 12 multiplier whose 6 low product bits are cleared (test RTL for opmodels import).
module mul12s_trunc (input signed [11:0] a, input signed [11:0] b, output signed [23:0] y);
  wire signed [23:0] full = a * b;
  assign y = {full[23:6], 6'b0};
endmodule
