// Unsigned 8 x 4 multiplier, behavioural.
module mul8x4u (input [7:0] a, input [3:0] b, output [11:0] y);
  assign y = a * b;
endmodule
