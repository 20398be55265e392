// DFG / Schaefer-Turek (1996) flow around a cylinder, 2D.
// Channel [0, 2.2] x [0, 0.41] minus the disc of radius 0.05 at (0.2, 0.2).
// Physical curves: inlet (x = 0), outlet (x = 2.2), walls (y = 0, y = 0.41),
// cylinder; physical surface: fluid.
//
// Resolution: level L has mesh size 0.05 / 2^(L-1) in the channel and
// 0.01 / 2^(L-1) on the cylinder (the sizes of benches/peers/dfg_*.py),
// growing smoothly away from it. Make the committed meshes with
//   meshes/make_meshes.sh
// or one level by hand:
//   gmsh meshes/dfg_cylinder.geo -2 -order 2 -setnumber level 2 -format msh41 -o out.msh

// The cylinder's centre (xc, yc) and radius r are parameters too (the
// defaults are the benchmark's): `pde-engine generate` meshes a family of
// cylinders from this file.
DefineConstant[ level = {1, Min 1, Max 6, Step 1, Name "Parameters/level"} ];
DefineConstant[ xc = {0.2, Name "Parameters/xc"} ];
DefineConstant[ yc = {0.2, Name "Parameters/yc"} ];
DefineConstant[ r = {0.05, Name "Parameters/r"} ];
h = 0.05 / 2^(level - 1);
hc = 0.01 / 2^(level - 1) * r / 0.05;

L = 2.2; H = 0.41;

Point(1) = {0, 0, 0, h};
Point(2) = {L, 0, 0, h};
Point(3) = {L, H, 0, h};
Point(4) = {0, H, 0, h};
Point(5) = {xc, yc, 0, hc};
Point(6) = {xc + r, yc, 0, hc};
Point(7) = {xc, yc + r, 0, hc};
Point(8) = {xc - r, yc, 0, hc};
Point(9) = {xc, yc - r, 0, hc};

Line(1) = {1, 2};
Line(2) = {2, 3};
Line(3) = {3, 4};
Line(4) = {4, 1};
Circle(5) = {6, 5, 7};
Circle(6) = {7, 5, 8};
Circle(7) = {8, 5, 9};
Circle(8) = {9, 5, 6};

Curve Loop(1) = {1, 2, 3, 4};
Curve Loop(2) = {5, 6, 7, 8};
Plane Surface(1) = {1, 2};

// Size hc on the cylinder, growing to h at 0.15 from it.
Field[1] = Distance;
Field[1].CurvesList = {5, 6, 7, 8};
Field[1].NumPointsPerCurve = 200;
Field[2] = Threshold;
Field[2].InField = 1;
Field[2].SizeMin = hc;
Field[2].SizeMax = h;
Field[2].DistMin = 0.0;
Field[2].DistMax = 0.15;
Background Field = 2;
Mesh.MeshSizeExtendFromBoundary = 0;
Mesh.MeshSizeFromPoints = 0;
Mesh.MeshSizeFromCurvature = 0;
Mesh.Algorithm = 6; // Frontal-Delaunay

Physical Curve("inlet") = {4};
Physical Curve("outlet") = {2};
Physical Curve("walls") = {1, 3};
Physical Curve("cylinder") = {5, 6, 7, 8};
Physical Surface("fluid") = {1};
