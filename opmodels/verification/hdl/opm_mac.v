// Clocked multiply-accumulate unit, written by hand: acc <= ADD_W(acc, sext_W(P(a, b))) on each
// enabled clock edge, acc <= 0 on clear (clear wins over enable); spec section 8.
// The multiplier and the adder are instantiated by module name, so generated operators
// (opm_m4p8, opm_loa8, ...) and the hand-written ones (opm_booth_r4, opm_loa) plug in alike:
//   OPM_MAC_MUL / OPM_MAC_ADD          module names (default opm_booth_r4 / opm_loa)
//   OPM_MAC_MUL_PARAMS / _ADD_PARAMS   optional parameter list, e.g. .W(32),.L(8)
// Both modules have ports a, b, y: y = P(a, b) (2N bits) and y = ADD(a, b) (W bits); acc is port a.
`ifndef OPM_MAC_MUL
  `define OPM_MAC_MUL opm_booth_r4
  `define OPM_MAC_MUL_PARAMS .N(N)
`endif
`ifndef OPM_MAC_ADD
  `define OPM_MAC_ADD opm_loa
  `define OPM_MAC_ADD_PARAMS .W(W)
`endif

module opm_mac #(parameter N = 8, parameter W = 32) (clk, clear, enable, a, b, acc);
  input clk;
  input clear;
  input enable;
  input signed [N-1:0] a;
  input signed [N-1:0] b;
  output reg signed [W-1:0] acc = {W{1'b0}};

  wire signed [2*N-1:0] product;
  wire signed [W-1:0] addend = {{(W-2*N){product[2*N-1]}}, product};  // sext_W(P)
  wire signed [W-1:0] sum;

`ifdef OPM_MAC_MUL_PARAMS
  `OPM_MAC_MUL #(`OPM_MAC_MUL_PARAMS) multiplier (.a(a), .b(b), .y(product));
`else
  `OPM_MAC_MUL multiplier (.a(a), .b(b), .y(product));
`endif
`ifdef OPM_MAC_ADD_PARAMS
  `OPM_MAC_ADD #(`OPM_MAC_ADD_PARAMS) adder (.a(acc), .b(addend), .y(sum));
`else
  `OPM_MAC_ADD adder (.a(acc), .b(addend), .y(sum));
`endif

  always @(posedge clk) begin
    if (clear)
      acc <= {W{1'b0}};
    else if (enable)
      acc <= sum;
  end
endmodule
