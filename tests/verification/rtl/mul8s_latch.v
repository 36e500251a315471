// A multiplier with a latch: y is assigned only when a is not zero (an incomplete if in always @*).
module mul8s_latch (input signed [7:0] a, input signed [7:0] b, output reg signed [15:0] y);
  always @* begin
    if (a != 8'sd0) y = a * b;
  end
endmodule
