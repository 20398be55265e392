// Partial dam break (Fennema & Chaudhry 1990): a 200 m x 200 m basin split
// at x = 100 by a 10 m thick dam with a 75 m breach (y from 95 to 170).
// Physical curve: walls (the whole boundary, dam included); physical
// surface: water. Unstructured triangles of size h (default 2 m):
//   gmsh meshes/dam_break.geo -2 -format msh41 -o meshes/dam_break.msh

DefineConstant[ h = {2, Min 0.25, Max 20, Name "Parameters/h"} ];

Point(1) = {0, 0, 0, h};
Point(2) = {95, 0, 0, h};
Point(3) = {95, 95, 0, h};
Point(4) = {105, 95, 0, h};
Point(5) = {105, 0, 0, h};
Point(6) = {200, 0, 0, h};
Point(7) = {200, 200, 0, h};
Point(8) = {105, 200, 0, h};
Point(9) = {105, 170, 0, h};
Point(10) = {95, 170, 0, h};
Point(11) = {95, 200, 0, h};
Point(12) = {0, 200, 0, h};
For i In {1:11}
  Line(i) = {i, i + 1};
EndFor
Line(12) = {12, 1};
Curve Loop(1) = {1:12};
Plane Surface(1) = {1};
Physical Curve("walls") = {1:12};
Physical Surface("water") = {1};
