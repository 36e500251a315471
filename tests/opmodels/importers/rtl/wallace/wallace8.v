// Unsigned 8 x 8 Wallace-tree multiplier over several files (pp.v, csa.v, fa.v); TRUNC drops the
// partial-product bits of the low columns (test RTL for opmodels import).
module wallace8 #(parameter TRUNC = 0) (input [7:0] a, input [7:0] b, output [15:0] y);
  wire [127:0] r;
  wire [15:0] s1, c1, s2, c2, s3, c3, s4, c4, s5, c5, s6, c6;
  pp_gen #(.TRUNC(TRUNC)) products (.a(a), .b(b), .rows(r));
  csa l1a (.x(r[15:0]), .y(r[31:16]), .z(r[47:32]), .s(s1), .c(c1));      // 8 rows -> 6
  csa l1b (.x(r[63:48]), .y(r[79:64]), .z(r[95:80]), .s(s2), .c(c2));
  csa l2a (.x(s1), .y(c1), .z(s2), .s(s3), .c(c3));                        // 6 rows -> 4
  csa l2b (.x(c2), .y(r[111:96]), .z(r[127:112]), .s(s4), .c(c4));
  csa l3 (.x(s3), .y(c3), .z(s4), .s(s5), .c(c5));                         // 4 rows -> 3
  csa l4 (.x(s5), .y(c5), .z(c4), .s(s6), .c(c6));                         // 3 rows -> 2
  assign y = s6 + c6;
endmodule
