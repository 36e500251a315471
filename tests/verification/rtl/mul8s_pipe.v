// Two-stage pipelined signed 8 x 8 multiplier: operands registered, then the product registered
// (latency 2: the product of the operands present at edge i is at y after edge i + 1).
// Synchronous active-high reset.
module mul8s_pipe (input clk, input rst, input signed [7:0] a, input signed [7:0] b, output reg signed [15:0] y);
  reg signed [7:0] ra, rb;
  always @(posedge clk) begin
    if (rst) begin
      ra <= 0; rb <= 0; y <= 0;
    end else begin
      ra <= a; rb <= b; y <= ra * rb;
    end
  end
endmodule
