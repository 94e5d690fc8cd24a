//! Joint (proxy, true utility) models: every optimizer runs on the proxy `U` and is evaluated on
//! the true utility `V`.
