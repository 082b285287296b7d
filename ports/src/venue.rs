//! Where orders go (a simulated venue, an exchange), as two ports: [`ExecutionVenue`] trades
//! (submit, cancel, amend, cancel-replace) and reports; [`VenueAccount`] answers
//! questions about an account (open orders, positions, balances, and later transfers). A
//! gateway needs the first; a reconciler the second; an exchange adapter implements both.

use crate::PortResult;
use async_trait::async_trait;
use chimera_kernel::event::ExecutionReport;
use chimera_kernel::ids::PortfolioId;
use chimera_kernel::order::{
    AmendRequest, CancelReplaceRequest, CancelRequest, Order, OrderIntent, OrderListRequest,
};
use chimera_kernel::portfolio::Position;
use chimera_kernel::value::Money;
use std::time::Duration;

/// A trading venue. Outcomes of submits and cancels arrive as [`ExecutionReport`]s through
/// [`ExecutionVenue::next_report`], never as return values, exactly as on a real exchange.
#[async_trait]
pub trait ExecutionVenue: Send + Sync {
    /// Sends an order. Idempotent by `client_order_id`: submitting an id the venue already knows
    /// creates no second order (and no second set of reports).
    ///
    /// # Errors
    /// [`crate::PortError::Transient`] when the venue is unreachable (retry with the same intent);
    /// a refusal of the order itself is a `Rejected` report, not an error.
    async fn submit(&self, intent: &OrderIntent) -> PortResult<()>;

    /// Requests a cancel. An unknown or finished order yields a `CancelRejected` report.
    ///
    /// # Errors
    /// [`crate::PortError::Transient`] when the venue is unreachable.
    async fn cancel(&self, request: &CancelRequest) -> PortResult<()>;

    /// Requests an amend (see [`AmendRequest`] for what each market allows). The outcome is an
    /// `Amended` report, an `AmendRejected` one (the order unchanged), or `Canceled` where the
    /// venue cancels instead. Idempotent by (client order id, amendment number).
    ///
    /// # Errors
    /// [`crate::PortError::Transient`] when the venue is unreachable.
    async fn amend(&self, request: &AmendRequest) -> PortResult<()>;

    /// Cancels one order and places another (see [`CancelReplaceRequest`]). A venue without a
    /// native cancel-replace cancels, then submits. Idempotent by the replacement's client
    /// order id.
    ///
    /// # Errors
    /// [`crate::PortError::Transient`] when the venue is unreachable.
    async fn cancel_replace(&self, request: &CancelReplaceRequest) -> PortResult<()>;

    /// Places linked orders (see [`OrderListRequest`]): admitted whole, or every leg gets the
    /// same `Rejected` report. A venue without order lists for the instrument rejects every
    /// leg with `InvalidOrder` (the engine emulates an OCO there instead). Idempotent by the
    /// legs' client order ids.
    ///
    /// # Errors
    /// [`crate::PortError::Transient`] when the venue is unreachable.
    async fn submit_list(&self, list: &OrderListRequest) -> PortResult<()>;

    /// Waits up to `max_wait` for the next execution report. A zero wait never blocks: it
    /// returns a report already received, or none, on its first poll (the gateway drains
    /// reports that way after every command).
    ///
    /// # Errors
    /// [`crate::PortError::Transient`] on connection trouble.
    async fn next_report(&self, max_wait: Duration) -> PortResult<Option<ExecutionReport>>;
}

/// A venue account as the venue sees it: what to reconcile the books against.
#[async_trait]
pub trait VenueAccount: Send + Sync {
    /// The portfolio's working orders as the venue sees them.
    ///
    /// # Errors
    /// [`crate::PortError::Transient`] when the venue is unreachable.
    async fn open_orders(&self, portfolio: &PortfolioId) -> PortResult<Vec<Order>>;

    /// The portfolio's positions as the venue sees them.
    ///
    /// # Errors
    /// [`crate::PortError::Transient`] when the venue is unreachable.
    async fn positions(&self, portfolio: &PortfolioId) -> PortResult<Vec<Position>>;

    /// The portfolio's balances.
    ///
    /// # Errors
    /// [`crate::PortError::Transient`] when the venue is unreachable.
    async fn balances(&self, portfolio: &PortfolioId) -> PortResult<Vec<Money>>;
}

/// A shared venue is a venue: the gateway and a reconciler may hold the same adapter.
#[async_trait]
impl<T: ExecutionVenue + ?Sized> ExecutionVenue for std::sync::Arc<T> {
    async fn submit(&self, intent: &OrderIntent) -> PortResult<()> {
        (**self).submit(intent).await
    }

    async fn cancel(&self, request: &CancelRequest) -> PortResult<()> {
        (**self).cancel(request).await
    }

    async fn amend(&self, request: &AmendRequest) -> PortResult<()> {
        (**self).amend(request).await
    }

    async fn cancel_replace(&self, request: &CancelReplaceRequest) -> PortResult<()> {
        (**self).cancel_replace(request).await
    }

    async fn submit_list(&self, list: &OrderListRequest) -> PortResult<()> {
        (**self).submit_list(list).await
    }

    async fn next_report(&self, max_wait: Duration) -> PortResult<Option<ExecutionReport>> {
        (**self).next_report(max_wait).await
    }
}

/// A shared venue's account is a venue account.
#[async_trait]
impl<T: VenueAccount + ?Sized> VenueAccount for std::sync::Arc<T> {
    async fn open_orders(&self, portfolio: &PortfolioId) -> PortResult<Vec<Order>> {
        (**self).open_orders(portfolio).await
    }

    async fn positions(&self, portfolio: &PortfolioId) -> PortResult<Vec<Position>> {
        (**self).positions(portfolio).await
    }

    async fn balances(&self, portfolio: &PortfolioId) -> PortResult<Vec<Money>> {
        (**self).balances(portfolio).await
    }
}
