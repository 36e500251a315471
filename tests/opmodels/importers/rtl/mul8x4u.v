// Unsigned 8 x 4 multiplier that ignores the multiplicand's lowest bit (test RTL for opmodels import).
module mul8x4u (input [7:0] a, input [3:0] b, output [11:0] y);
  wire [10:0] upper = a[7:1] * b;
  assign y = {upper, 1'b0};
endmodule
