// Signed 4-bit a times unsigned 4-bit b, 9-bit signed product (test RTL for opmodels import).
module mul4su (input signed [3:0] a, input [3:0] b, output signed [8:0] y);
  assign y = a * $signed({1'b0, b});
endmodule
