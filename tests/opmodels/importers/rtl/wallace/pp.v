// Partial products of an unsigned 8 x 8 multiplier, 8 rows of 16 bits; bits of columns < TRUNC are 0.
module pp_gen #(parameter TRUNC = 0) (input [7:0] a, input [7:0] b, output [127:0] rows);
  genvar i, j;
  generate
    for (j = 0; j < 8; j = j + 1) begin : row
      for (i = 0; i < 16; i = i + 1) begin : col
        if (i >= j && i < j + 8 && i >= TRUNC) begin : used
          assign rows[16 * j + i] = a[i - j] & b[j];
        end else begin : zero
          assign rows[16 * j + i] = 1'b0;
        end
      end
    end
  endgenerate
endmodule
