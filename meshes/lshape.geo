// L-shaped domain [-1, 1]^2 minus [0, 1] x [-1, 0], with a re-entrant corner
// at the origin (the classic singular Poisson problem). Physical curves:
// boundary (all of it); surface: domain. Refined towards the corner.
//   gmsh meshes/lshape.geo -2 -format msh41 -o meshes/lshape.msh
h = 0.1;
Point(1) = {-1, -1, 0, h};
Point(2) = {0, -1, 0, h};
Point(3) = {0, 0, 0, h / 8};
Point(4) = {1, 0, 0, h};
Point(5) = {1, 1, 0, h};
Point(6) = {-1, 1, 0, h};
Line(1) = {1, 2};
Line(2) = {2, 3};
Line(3) = {3, 4};
Line(4) = {4, 5};
Line(5) = {5, 6};
Line(6) = {6, 1};
Curve Loop(1) = {1, 2, 3, 4, 5, 6};
Plane Surface(1) = {1};
Physical Curve("boundary") = {1, 2, 3, 4, 5, 6};
Physical Surface("domain") = {1};
