"""Reference values of the special functions behind the test p-values, from SciPy.

Writes special_functions.csv (function,x,df,expected) next to this script:
  kolmogorov  scipy.special.kolmogorov(x)            (= kstwobign.sf)
  normal_sf   scipy.stats.norm.sf(x)
  student_t   2 * scipy.stats.t.sf(|x|, df)          (two-sided p)
Run:  python make_special_functions.py   (numpy + scipy)
"""
import os
import numpy as np
from scipy import special, stats

rows = []
for x in np.concatenate([np.geomspace(0.02, 20.0, 120), np.linspace(0.7, 0.95, 26)]):
    x = float(x)
    rows.append(("kolmogorov", x, "", float(special.kolmogorov(x))))
for z in np.concatenate([np.linspace(-8.0, 8.0, 81), np.geomspace(8.0, 37.5, 30)]):
    z = float(z)
    rows.append(("normal_sf", z, "", float(stats.norm.sf(z))))
for df in [1.0, 1.5, 2.0, 5.3, 30.0, 300.0, 5000.0, 1e5, 1e6]:
    for t in np.concatenate([np.geomspace(0.001, 60.0, 40), [-2.5]]):
        t = float(t)
        p = float(2 * stats.t.sf(abs(t), df))
        if p > 1e-300:
            rows.append(("student_t", t, repr(df), p))

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "special_functions.csv"), "w") as out:
    out.write("function,x,df,expected\n")
    for function, x, df, expected in rows:
        out.write(f"{function},{x!r},{df},{expected!r}\n")
print(len(rows), "rows")
