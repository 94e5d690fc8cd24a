//! Family `conditioning: conditioning versus RL`.

use super::Claim;

/// The claims of this family, in catalog order.
pub fn claims() -> Vec<Claim> {
    Vec::new()
}
