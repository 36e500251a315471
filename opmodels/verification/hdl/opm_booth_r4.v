// Exact radix-4 Booth multiplier, written by hand (not generated) as an independent reference.
// Each row selects digit * a from the multiplier triple {b[2j+1], b[2j], b[2j-1]} (b[-1] = 0)
// and the rows are summed with their weights 4^j: y = sum_j d_j * a * 4^j = a * b (spec section 2).
// Ports as the generated modules: a multiplicand, b multiplier, y product (2N bits), all signed.
module opm_booth_r4 #(parameter N = 8) (a, b, y);
  input signed [N-1:0] a;
  input signed [N-1:0] b;
  output signed [2*N-1:0] y;

  wire [N:0] b_ext = {b, 1'b0};                  // b[-1] = 0 below the multiplier
  wire signed [N+1:0] a_ext = {{2{a[N-1]}}, a};  // room for +-2a
  wire signed [2*N-1:0] partial [0:N/2];         // partial[j] = sum of rows 0 .. j-1
  assign partial[0] = {2*N{1'b0}};

  genvar j;
  generate
    for (j = 0; j < N / 2; j = j + 1) begin : row
      wire [2:0] triple = b_ext[2*j+2:2*j];
      reg signed [N+1:0] multiple;               // digit * a, digit in -2 .. 2
      always @* begin
        case (triple)
          3'b001, 3'b010: multiple = a_ext;
          3'b011:         multiple = a_ext <<< 1;
          3'b100:         multiple = -(a_ext <<< 1);
          3'b101, 3'b110: multiple = -a_ext;
          default:        multiple = {N+2{1'b0}};  // 000, 111: digit 0
        endcase
      end
      wire signed [2*N-1:0] weighted = $signed({{(2*N-N-2){multiple[N+1]}}, multiple}) <<< (2 * j);
      assign partial[j+1] = partial[j] + weighted;
    end
  endgenerate

  assign y = partial[N/2];
endmodule
