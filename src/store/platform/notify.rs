//! Money on the provider's word: the payment order of a decision (opened with the provider for
//! exactly what the rule core says is due, one per decision: table `payment_orders`, migration 5),
//! the provider's verified notification or an order query that says it is paid (the only two ways
//! a payment is recorded), and the reconciliation of money that arrived after the 六.2 revert
//! (refunded through the provider; an order stays `refund_pending` until the provider took the
//! refund, and [`StorePlatform::reconcile_orders`] tries again).
//!
//! The provider is called outside the store's transactions (a slow provider never holds the
//! database); every call is idempotent by the order's number, so a retry after a crash is safe.

use jiff::Timestamp;
use serde_json::json;

use super::ops::PaymentSource;
use super::rows::*;
use super::{
    Backend, DecisionNumber, NotifyAck, PayRequest, PaymentOrderView, PaymentView, StorePlatform,
};
use crate::domain::Fen;
use crate::rules::payment as pay_rules;
use crate::sql_params;
use crate::store::payment::{NotificationError, OrderRef, OrderRequest, TradeStatus};
use crate::store::sql::{Row, Sql, SqlError};
use crate::store::{StoreError, audit};

/// Our order number (商户订单号) of a decision: one per decision, so a retry opens the same
/// order and never a second.
pub fn out_trade_no(decision: &DecisionNumber) -> String {
    format!("KD{}", decision.as_str())
}

/// Why a notification was not recorded (it is written to the audit log).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiveError {
    #[error(transparent)]
    Notification(#[from] NotificationError),
    #[error("支付通知的订单不存在 / The payment notification names an unknown order")]
    UnknownOrder,
    #[error(
        "支付通知金额{notified}与订单金额{ordered}不符 / The notified amount {notified} differs from the order's {ordered}"
    )]
    WrongAmount { ordered: Fen, notified: Fen },
}

impl ReceiveError {
    /// The audit log's reason code.
    pub fn code(&self) -> &'static str {
        match self {
            ReceiveError::Notification(NotificationError::BadSignature) => "bad_signature",
            ReceiveError::Notification(NotificationError::Malformed(_)) => "malformed",
            ReceiveError::Notification(NotificationError::OtherMerchant) => "other_merchant",
            ReceiveError::Notification(NotificationError::NotSupported) => "not_supported",
            ReceiveError::UnknownOrder => "unknown_order",
            ReceiveError::WrongAmount { .. } => "wrong_amount",
        }
    }
}

/// Told of every refused payment notification, after the store checked its signature. A
/// notification whose signature does not hold (bad signature, malformed, another merchant's) can
/// come from anyone, any number of times: the gate decides whether it is written to the audit log
/// (`kiosk serve` caps those rows per minute). One whose signature holds (unknown order, another
/// amount) is always audited: only the provider can send it.
pub trait RefusalGate: Send + Sync {
    /// A notification was refused for `reason` ([`ReceiveError::code`]); `signed`: its signature
    /// held. Returns whether an unsigned one is written to the audit log (ignored when signed).
    fn refused(&self, reason: &'static str, signed: bool, now: Timestamp) -> bool;
}

/// The default gate: every refusal is audited (a kiosk's own store, the tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditEveryRefusal;

impl RefusalGate for AuditEveryRefusal {
    fn refused(&self, _reason: &'static str, _signed: bool, _now: Timestamp) -> bool {
        true
    }
}

/// The provider of an order with nothing to collect (amount due 0): settled without asking anyone.
pub const NO_CHARGE: &str = "none";

#[derive(Debug, Clone)]
pub(super) struct OrderRow {
    decision_id: i64,
    decision_number: String,
    out_trade_no: String,
    provider: String,
    amount: Fen,
    qr_code: String,
    state: String,
    created_at: i64,
}

const ORDER_COLS: &str = "o.decision_id, d.number, o.out_trade_no, o.provider, o.amount_fen, o.qr_code, o.state, o.created_at";

fn order_from_row(r: &Row) -> Result<OrderRow, SqlError> {
    Ok(OrderRow {
        decision_id: r.get(0)?,
        decision_number: r.get(1)?,
        out_trade_no: r.get(2)?,
        provider: r.get(3)?,
        amount: Fen(r.get(4)?),
        qr_code: r.get(5)?,
        state: r.get(6)?,
        created_at: r.get(7)?,
    })
}

fn order_of_decision(tx: &dyn Sql, decision_id: i64) -> Result<Option<OrderRow>, StoreError> {
    Ok(tx
        .query_opt(
            &format!("SELECT {ORDER_COLS} FROM payment_orders o JOIN decisions d ON d.id = o.decision_id WHERE o.decision_id = ?1"),
            &sql_params![decision_id],
        )?
        .map(|r| order_from_row(&r))
        .transpose()?)
}

fn order_by_number(tx: &dyn Sql, out_trade_no: &str) -> Result<Option<OrderRow>, StoreError> {
    Ok(tx
        .query_opt(
            &format!("SELECT {ORDER_COLS} FROM payment_orders o JOIN decisions d ON d.id = o.decision_id WHERE o.out_trade_no = ?1"),
            &sql_params![out_trade_no],
        )?
        .map(|r| order_from_row(&r))
        .transpose()?)
}

/// The decision's recorded payment, if any.
fn payment_of_decision(tx: &dyn Sql, decision_id: i64) -> Result<Option<PaymentView>, StoreError> {
    tx.query_opt(
        "SELECT d.number, p.idempotency_key, p.method, p.transaction_no, p.fine_fen, p.surcharge_fen, p.fee_fen, p.paid_at
         FROM payments p JOIN decisions d ON d.id = p.decision_id WHERE p.decision_id = ?1",
        &sql_params![decision_id],
    )?
    .map(|r| -> Result<PaymentView, StoreError> {
        Ok(PaymentView {
            decision_number: DecisionNumber(r.get(0)?),
            idempotency_key: r.get(1)?,
            method: r.get(2)?,
            transaction_no: r.get(3)?,
            amount: pay_rules::AmountDue {
                fine: Fen(r.get(4)?),
                surcharge: Fen(r.get(5)?),
                fee: Fen(r.get(6)?),
            },
            paid_at: ts(r.get(7)?),
            replayed: true,
        })
    })
    .transpose()
}

impl OrderRow {
    fn view(&self) -> PaymentOrderView {
        PaymentOrderView {
            decision_number: DecisionNumber(self.decision_number.clone()),
            out_trade_no: self.out_trade_no.clone(),
            method: self.provider.clone(),
            amount: self.amount,
            qr_code: self.qr_code.clone(),
            state: self.state.clone(),
        }
    }

    fn reference(&self) -> OrderRef {
        OrderRef {
            out_trade_no: self.out_trade_no.clone(),
            amount: self.amount,
        }
    }
}

/// What [`StorePlatform::settle`] did with money the provider says is in.
enum Settled {
    Recorded(PaymentView),
    /// Already recorded (a repeated notification, or the query after it): nothing new.
    Duplicate(Option<PaymentView>),
    /// The decision can no longer be paid (reverted, 六.2): the money goes back.
    Late,
    Refused(ReceiveError),
}

/// A refusal, in the audit log (no personal data: order numbers and codes only).
fn audit_refusal(
    tx: &dyn Sql,
    now: Timestamp,
    out_trade_no: &str,
    e: &ReceiveError,
) -> Result<(), StoreError> {
    let mut detail = json!({"reason": e.code()});
    if let ReceiveError::WrongAmount { ordered, notified } = e {
        detail["ordered_fen"] = json!(ordered.as_fen());
        detail["notified_fen"] = json!(notified.as_fen());
    }
    audit::append(
        tx,
        now.as_second(),
        "payment_notification_refused",
        &format!("order:{}", bounded(out_trade_no)),
        &detail,
    )?;
    Ok(())
}

/// At most 64 characters of something a stranger sent, for the audit log.
fn bounded(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .take(64)
        .collect()
}

impl<B: Backend> StorePlatform<B> {
    /// The payment order of a payable decision: opened with the provider for what is due now
    /// (fine + surcharge + fee), recorded once (a second call returns the same order).
    pub(super) fn open_order(
        &self,
        number: &DecisionNumber,
        now: Timestamp,
    ) -> Result<PaymentOrderView, StoreError> {
        let (d, existing) = self.read(|tx| {
            let d = decision_by_number(tx, number.as_str())?;
            let o = order_of_decision(tx, d.id)?;
            Ok((d, o))
        })?;
        if let Some(o) = existing {
            return Ok(o.view());
        }
        let state = handling_state(&d.state)?;
        pay_rules::check_payment(state, d.window(now), now).map_err(StoreError::Payment)?;
        let amount = d.view(now)?.due().total();
        let order = OrderRequest {
            out_trade_no: out_trade_no(number),
            amount,
            subject: format!("交通违法罚款 决定书{}", number.as_str()),
            expires: d.window(now).deadline,
        };
        // Nothing to collect (a warning, 警告: no fine): no provider is asked; the order settles
        // at the first ask (`confirm_payment`).
        let (qr_code, method) = if amount == Fen(0) {
            (String::new(), NO_CHARGE)
        } else {
            let created = self.payments.create_order(&order, now)?;
            (created.qr_code, self.payments.method())
        };
        self.write(|tx| {
            let inserted = tx.exec(
                "INSERT INTO payment_orders (decision_id, out_trade_no, provider, amount_fen, qr_code, state, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'open', ?6) ON CONFLICT (decision_id) DO NOTHING",
                &sql_params![d.id, &order.out_trade_no, method, amount.as_fen(), &qr_code, now.as_second()],
            )?;
            if inserted == 1 {
                audit::append(
                    tx,
                    now.as_second(),
                    "payment_order",
                    &format!("decision:{}", d.number),
                    &json!({"out_trade_no": order.out_trade_no, "amount_fen": amount.as_fen(), "provider": method}),
                )?;
            }
            order_of_decision(tx, d.id)?
                .map(|o| o.view())
                .ok_or_else(|| StoreError::Corrupt("payment order vanished".into()))
        })
    }

    /// `pay`: the decision's payment as the provider confirms it. Already recorded: that payment
    /// (`replayed`). Otherwise the order is opened if needed and the provider asked; paid → the
    /// payment is recorded now; not yet → [`StoreError::NotPaidYet`]. Nothing here records money
    /// the provider did not confirm.
    pub(super) fn confirm_payment(
        &self,
        req: &PayRequest,
        now: Timestamp,
    ) -> Result<PaymentView, StoreError> {
        if req.idempotency_key.trim().is_empty() || req.idempotency_key.len() > 128 {
            return Err(StoreError::Invalid("idempotency key".into()));
        }
        let (d, paid) = self.read(|tx| {
            let d = decision_by_number(tx, req.decision_number.as_str())?;
            let p = payment_of_decision(tx, d.id)?;
            Ok((d, p))
        })?;
        if let Some(p) = paid {
            return Ok(p);
        }
        let state = handling_state(&d.state)?;
        pay_rules::check_payment(state, d.window(now), now).map_err(StoreError::Payment)?;
        self.open_order(&req.decision_number, now)?;
        let order = self
            .read(|tx| order_of_decision(tx, d.id))?
            .ok_or_else(|| StoreError::Corrupt("payment order vanished".into()))?;
        let status = if order.provider == NO_CHARGE {
            TradeStatus::Paid {
                trade_no: format!("{NO_CHARGE}-{}", order.decision_number),
                amount: Fen(0),
            }
        } else {
            self.payments.query(&order.reference(), now)?
        };
        match status {
            TradeStatus::Paid { trade_no, amount } => {
                match self.settle(&order.out_trade_no, &trade_no, amount, None, "query", now)? {
                    Settled::Recorded(p) => Ok(p),
                    Settled::Duplicate(Some(p)) => Ok(p),
                    Settled::Duplicate(None) | Settled::Late => {
                        Err(StoreError::Payment(pay_rules::PaymentRefusal::WindowClosed))
                    }
                    Settled::Refused(e) => Err(StoreError::Invalid(e.to_string())),
                }
            }
            TradeStatus::Waiting | TradeStatus::Closed => Err(StoreError::NotPaidYet),
        }
    }

    /// One transaction: money the provider says is in for `out_trade_no` is recorded as the
    /// decision's payment (once), or, when the decision can no longer be paid, the order is
    /// marked for refund. Refusals are audited and committed.
    fn settle(
        &self,
        out_trade_no: &str,
        trade_no: &str,
        amount: Fen,
        notify_id: Option<&str>,
        via: &str,
        now: Timestamp,
    ) -> Result<Settled, StoreError> {
        let late = self.write(|tx| {
            let Some(o) = order_by_number(tx, out_trade_no)? else {
                let e = ReceiveError::UnknownOrder;
                audit_refusal(tx, now, out_trade_no, &e)?;
                return Ok(Settled::Refused(e));
            };
            if let Some(id) = notify_id {
                // A notification already taken (the provider repeats one until it hears
                // `success`): nothing new.
                let fresh = tx.exec(
                    "INSERT INTO payment_nonces (nonce, received_at) VALUES (?1, ?2) ON CONFLICT (nonce) DO NOTHING",
                    &sql_params![format!("{}:{}", o.provider, bounded(id)), now.as_second()],
                )?;
                if fresh == 0 {
                    audit::append(
                        tx,
                        now.as_second(),
                        "payment_notification_replayed",
                        &format!("order:{}", o.out_trade_no),
                        &json!({"via": via}),
                    )?;
                    return Ok(Settled::Duplicate(payment_of_decision(tx, o.decision_id)?));
                }
            }
            // Closed (reverted unpaid): money arriving anyway goes back below.
            if o.state != "open" && o.state != "closed" {
                audit::append(
                    tx,
                    now.as_second(),
                    "payment_notification_replayed",
                    &format!("order:{}", o.out_trade_no),
                    &json!({"via": via, "state": o.state}),
                )?;
                return Ok(Settled::Duplicate(payment_of_decision(tx, o.decision_id)?));
            }
            if amount != o.amount {
                let e = ReceiveError::WrongAmount {
                    ordered: o.amount,
                    notified: amount,
                };
                audit_refusal(tx, now, out_trade_no, &e)?;
                return Ok(Settled::Refused(e));
            }
            let d = decision_by_number(tx, &o.decision_number)?;
            let state = handling_state(&d.state)?;
            // The order was priced when it was opened (its QR closes with the payment window);
            // should that price no longer be what the decision says was due then, the money
            // cannot settle it and goes back like late money.
            let priced_at = ts(o.created_at);
            let due_then = d.view(priced_at)?.due().total();
            if pay_rules::check_confirmed_payment(state).is_err() || due_then != o.amount {
                tx.exec(
                    "UPDATE payment_orders SET state = 'refund_pending', trade_no = ?2, settled_at = ?3 WHERE decision_id = ?1",
                    &sql_params![o.decision_id, trade_no, now.as_second()],
                )?;
                audit::append(
                    tx,
                    now.as_second(),
                    "payment_late",
                    &format!("decision:{}", d.number),
                    &json!({"out_trade_no": o.out_trade_no, "amount_fen": amount.as_fen(), "state": d.state, "via": via}),
                )?;
                return Ok(Settled::Late);
            }
            let view = self.pay_in_tx(
                tx,
                &PayRequest {
                    decision_number: DecisionNumber(o.decision_number.clone()),
                    idempotency_key: o.out_trade_no.clone(),
                    method: o.provider.clone(),
                },
                PaymentSource::Notified {
                    transaction_no: trade_no,
                    amount,
                    priced_at,
                },
                now,
            )?;
            tx.exec(
                "UPDATE payment_orders SET state = 'paid', trade_no = ?2, settled_at = ?3 WHERE decision_id = ?1",
                &sql_params![o.decision_id, trade_no, now.as_second()],
            )?;
            audit::append(
                tx,
                now.as_second(),
                "payment_confirmed",
                &format!("decision:{}", d.number),
                &json!({"out_trade_no": o.out_trade_no, "trade_no": bounded(trade_no), "via": via}),
            )?;
            Ok(Settled::Recorded(view))
        })?;
        if let Settled::Late = late {
            // Best effort now; `reconcile_orders` tries again while it stays refund_pending.
            if let Err(e) = self.refund_order(out_trade_no, now) {
                tracing::warn!(order = out_trade_no, error = %e, "refund of a late payment failed; retried by reconcile");
            }
        }
        Ok(late)
    }

    /// Refund a `refund_pending` order through the provider, then mark it `refunded`.
    fn refund_order(&self, out_trade_no: &str, now: Timestamp) -> Result<(), StoreError> {
        let Some(o) = self.read(|tx| order_by_number(tx, out_trade_no))? else {
            return Ok(());
        };
        if o.state != "refund_pending" {
            return Ok(());
        }
        self.payments
            .refund(&o.reference(), &format!("{}-R", o.out_trade_no), now)?;
        self.write(|tx| {
            let n = tx.exec(
                "UPDATE payment_orders SET state = 'refunded', settled_at = ?2 WHERE decision_id = ?1 AND state = 'refund_pending'",
                &sql_params![o.decision_id, now.as_second()],
            )?;
            if n == 1 {
                audit::append(
                    tx,
                    now.as_second(),
                    "payment_refunded",
                    &format!("decision:{}", o.decision_number),
                    &json!({"out_trade_no": o.out_trade_no, "amount_fen": o.amount.as_fen()}),
                )?;
            }
            Ok(())
        })
    }

    /// Verify and take the provider's asynchronous notification (its raw body). A verified
    /// payment is recorded once; a repeated one is acknowledged and nothing is recorded; money for
    /// a reverted decision is refunded. A refusal (bad signature, unknown order, another amount)
    /// is written to the audit log and returned.
    pub fn receive_notification(
        &self,
        body: &[u8],
        now: Timestamp,
    ) -> Result<Result<NotifyAck, ReceiveError>, StoreError> {
        let n = match self.payments.verify_notification(body) {
            Ok(n) => n,
            Err(e) => {
                // Anyone can send these: the gate bounds how many reach the audit log (and the
                // log), so a flood fills neither.
                let e = ReceiveError::Notification(e);
                if self.refusals.refused(e.code(), false, now) {
                    tracing::warn!(reason = e.code(), "payment notification refused");
                    self.write(|tx| audit_refusal(tx, now, "-", &e))?;
                }
                return Ok(Err(e));
            }
        };
        if !n.paid {
            return Ok(Ok(NotifyAck::Ignored));
        }
        Ok(
            match self.settle(
                &n.out_trade_no,
                &n.trade_no,
                n.amount,
                Some(&n.notify_id),
                "notification",
                now,
            )? {
                Settled::Recorded(_) => Ok(NotifyAck::Recorded),
                Settled::Duplicate(_) => Ok(NotifyAck::Duplicate),
                Settled::Late => Ok(NotifyAck::Refunding),
                Settled::Refused(e) => {
                    // Signed by the provider (audited in `settle`): counted, never capped.
                    self.refusals.refused(e.code(), true, now);
                    tracing::warn!(reason = e.code(), "payment notification refused");
                    Err(e)
                }
            },
        )
    }

    /// Reconcile the orders the revert left behind (run after each 六.2 revert sweep): an open
    /// order of a reverted decision is asked about (paid → refunded; unpaid → closed), and a
    /// refund that failed is tried again. Returns how many orders were refunded now.
    pub fn reconcile_orders(&self, now: Timestamp) -> Result<u32, StoreError> {
        let orders: Vec<(String, String)> = self.read(|tx| {
            Ok(tx
                .query(
                    "SELECT o.out_trade_no, o.state FROM payment_orders o JOIN decisions d ON d.id = o.decision_id
                     WHERE o.state = 'refund_pending' OR (o.state = 'open' AND d.state = 'reverted')
                     ORDER BY o.decision_id LIMIT 500",
                    &[],
                )?
                .iter()
                .map(|r| Ok((r.get(0)?, r.get(1)?)))
                .collect::<Result<Vec<_>, SqlError>>()?)
        })?;
        let mut refunded = 0;
        for (out, state) in orders {
            if state == "open" {
                let Some(o) = self.read(|tx| order_by_number(tx, &out))? else {
                    continue;
                };
                let status = if o.provider == NO_CHARGE {
                    Ok(TradeStatus::Closed)
                } else {
                    self.payments.query(&o.reference(), now)
                };
                match status {
                    Ok(TradeStatus::Paid { trade_no, amount }) => {
                        if let Settled::Late =
                            self.settle(&out, &trade_no, amount, None, "reconcile", now)?
                            && self.read(|tx| order_by_number(tx, &out))?.map(|o| o.state)
                                == Some("refunded".into())
                        {
                            refunded += 1;
                        }
                    }
                    // Never paid: closed here (it closed at the provider with the window).
                    Ok(TradeStatus::Waiting | TradeStatus::Closed) => {
                        self.write(|tx| {
                            let n = tx.exec(
                                "UPDATE payment_orders SET state = 'closed', settled_at = ?2 WHERE out_trade_no = ?1 AND state = 'open'",
                                &sql_params![&out, now.as_second()],
                            )?;
                            if n == 1 {
                                audit::append(
                                    tx,
                                    now.as_second(),
                                    "payment_order_closed",
                                    &format!("order:{out}"),
                                    &json!({"reason": "reverted_unpaid"}),
                                )?;
                            }
                            Ok(())
                        })?;
                    }
                    Err(e) => tracing::warn!(order = %out, error = %e, "order query failed"),
                }
            } else if self.refund_order(&out, now).is_ok() {
                refunded += 1;
            }
        }
        Ok(refunded)
    }
}
