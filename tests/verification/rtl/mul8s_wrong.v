// A deliberately wrong signed 8 x 8 multiplier: bit 8 of the product is flipped whenever a is
// negative and b is odd (a mistake of the kind a hand-edited netlist has).
module mul8s_wrong (input signed [7:0] a, input signed [7:0] b, output signed [15:0] y);
  wire signed [15:0] p = a * b;
  assign y = p ^ {7'b0, a[7] & b[0], 8'b0};
endmodule
