// Hierarchical unsigned N x N array multiplier over three files (hier_top.v, hier_row.v, hier_fa.v):
// rows of full adders, one row per bit of b. Parameter N (default 4); the tests set N=8.
module hier_mul #(parameter N = 4) (input [N-1:0] a, input [N-1:0] b, output [2*N-1:0] y);
  wire [N-1:0] acc [0:N-1];  // acc[i]: the running sum after row i, shifted right by i + 1
  wire [N-1:0] carry;
  wire [N-1:0] row0 = {N{b[0]}} & a;
  assign acc[0] = {1'b0, row0[N-1:1]};
  assign y[0] = row0[0];
  genvar i;
  generate
    for (i = 1; i < N; i = i + 1) begin : rows
      wire [N-1:0] sum;
      hier_row #(.N(N)) row (.x({N{b[i]}} & a), .y(acc[i-1]), .s(sum), .cout(carry[i]));
      assign acc[i] = {carry[i], sum[N-1:1]};
      assign y[i] = sum[0];
    end
  endgenerate
  assign y[2*N-1:N] = acc[N-1];
endmodule