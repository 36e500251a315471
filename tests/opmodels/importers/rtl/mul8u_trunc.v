// Behavioural unsigned multiplier whose low K product bits are cleared (test RTL for opmodels import).
module mul8u_trunc #(parameter K = 4) (input [7:0] a, input [7:0] b, output [15:0] y);
  wire [15:0] full = a * b;
  assign y = {full[15:K], {K{1'b0}}};
endmodule
