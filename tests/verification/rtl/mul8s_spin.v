// A multiplier whose file also holds a simulation-only process that never waits: an initial loop
// without a delay, which would keep the simulator at time 0 forever.
module mul8s_spin (input signed [7:0] a, input signed [7:0] b, output signed [15:0] y);
  reg toggle;
  initial begin
    toggle = 1'b0;
    forever toggle = ~toggle;
  end
  assign y = a * b;
endmodule
