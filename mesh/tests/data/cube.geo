// Unit cube, fixtures for the reader tests (see make_fixtures.sh).
DefineConstant[ hexes = {0, Name "hexes"} ];
SetFactory("OpenCASCADE");
Box(1) = {0, 0, 0, 1, 1, 1};
MeshSize{:} = 0.34;
If (hexes)
  Transfinite Curve{:} = 4;
  Transfinite Surface{:};
  Recombine Surface{:};
  Transfinite Volume{1};
  Recombine Volume{1};
EndIf
Physical Surface("left") = {1};
Physical Surface("right") = {2};
Physical Surface("walls") = {3, 4, 5, 6};
Physical Volume("solid") = {1};
