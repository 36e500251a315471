// Designs an import must refuse (test RTL for opmodels import).
module mul8s_registered (input clk, input signed [7:0] a, input signed [7:0] b, output reg signed [15:0] y);
  always @(posedge clk) y <= a * b;
endmodule
module mul8s_latch (input signed [7:0] a, input signed [7:0] b, output reg signed [15:0] y);
  always @* if (a[7]) y = a * b;
endmodule
module mul40 (input [39:0] a, input [7:0] b, output [47:0] y);
  assign y = a * b;
endmodule
module mul8s_enable (input en, input signed [7:0] a, input signed [7:0] b, output signed [15:0] y);
  assign y = en ? a * b : 16'sd0;
endmodule
