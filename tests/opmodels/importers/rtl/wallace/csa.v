// W-bit carry-save adder: three rows in, a sum row and a (shifted) carry row out.
module csa #(parameter W = 16) (input [W-1:0] x, input [W-1:0] y, input [W-1:0] z,
                                output [W-1:0] s, output [W-1:0] c);
  wire [W-1:0] carry;
  genvar k;
  generate
    for (k = 0; k < W; k = k + 1) begin : cells
      fa adder (.x(x[k]), .y(y[k]), .z(z[k]), .s(s[k]), .c(carry[k]));
    end
  endgenerate
  assign c = {carry[W-2:0], 1'b0};
endmodule
