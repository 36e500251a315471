// One row of the hierarchical multiplier: an N-bit ripple-carry adder of full adders.
module hier_row #(parameter N = 4) (input [N-1:0] x, input [N-1:0] y, output [N-1:0] s, output cout);
  wire [N:0] c;
  assign c[0] = 1'b0;
  genvar k;
  generate
    for (k = 0; k < N; k = k + 1) begin : bits
      hier_fa fa (.a(x[k]), .b(y[k]), .ci(c[k]), .s(s[k]), .co(c[k+1]));
    end
  endgenerate
  assign cout = c[N];
endmodule