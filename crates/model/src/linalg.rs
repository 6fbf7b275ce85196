//! Small dense linear algebra on preallocated storage: an in-place Cholesky solve, used
//! where the dynamics fall back to `M⁻¹` (models with coupled mimic joints). No allocation.

use nalgebra::{DMatrix, DVector};

/// Solves `A x = b` for symmetric positive-definite `A`, overwriting `a` with its Cholesky
/// factor and `b` with `x`. Returns `false` (leaving `b` undefined) if `A` is not positive
/// definite.
pub(crate) fn cholesky_solve_in_place(a: &mut DMatrix<f64>, b: &mut DVector<f64>) -> bool {
    let n = a.nrows();
    for j in 0..n {
        let mut d = a[(j, j)];
        for k in 0..j {
            d -= a[(j, k)] * a[(j, k)];
        }
        if d <= 0.0 || !d.is_finite() {
            return false;
        }
        let d = d.sqrt();
        a[(j, j)] = d;
        for i in j + 1..n {
            let mut s = a[(i, j)];
            for k in 0..j {
                s -= a[(i, k)] * a[(j, k)];
            }
            a[(i, j)] = s / d;
        }
    }
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= a[(i, k)] * b[k];
        }
        b[i] = s / a[(i, i)];
    }
    for i in (0..n).rev() {
        let mut s = b[i];
        for k in i + 1..n {
            s -= a[(k, i)] * b[k];
        }
        b[i] = s / a[(i, i)];
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_a_positive_definite_system() {
        let m = DMatrix::from_row_slice(3, 3, &[4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0]);
        let x = DVector::from_vec(vec![1.0, -2.0, 0.5]);
        let mut b = &m * &x;
        let mut a = m.clone();
        assert!(cholesky_solve_in_place(&mut a, &mut b));
        assert!((b - x).norm() < 1e-14);
    }

    #[test]
    fn rejects_an_indefinite_matrix() {
        let mut a = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 2.0, 1.0]);
        let mut b = DVector::from_vec(vec![1.0, 1.0]);
        assert!(!cholesky_solve_in_place(&mut a, &mut b));
    }
}
