// Behavioural signed 8 x 8 multiplier with its own port names (X, W, P), no final newline.
module mul8s_behav (input signed [7:0] X, input signed [7:0] W, output signed [15:0] P);
  assign P = X * W;
endmodule