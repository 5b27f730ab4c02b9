//! The real kiosk UI, driven through AccessKit labels with egui_kittest, rendered with wgpu
//! (Mesa llvmpipe in CI). Snapshots live in `tests/snapshots/`; `UPDATE_SNAPSHOTS=1` rewrites them.
//! `KIOSK_SCREENSHOTS=docs/screenshots cargo test --test ui readme_screenshots` writes the README's
//! screenshots.

use std::time::Duration;

use egui::Role;
use egui_kittest::kittest::{NodeT, Queryable};
use egui_kittest::{Harness, SnapshotOptions};
use jiff::{SignedDuration, Timestamp};
use kiosk::app::{Assembled, DemoHandles};
use kiosk::config::KioskConfig;
use kiosk::flow::{Screen, State};
use kiosk::store::demo::{DemoOptions, build_city};
use kiosk::ui::{Clock, KioskApp};

/// The demo city's "today": 09:00 in Chongqing.
const ANCHOR: &str = "2026-11-25T09:00:00+08:00";
/// 10:00 in Chongqing: handling open.
const DAY: &str = "2026-11-25T10:00:00+08:00";
/// 23:00 in Chongqing: the maintenance window (六.7).
const NIGHT: &str = "2026-11-25T23:00:00+08:00";
/// How long a test waits for the flow worker before it fails.
const SETTLE: Duration = Duration::from_secs(20);

/// 李小红's car and its two violations in the store's demo city (src/store/demo.rs).
const LXH_PLATE: &str = "渝A8K2L6";

/// The demo city (anchored at [`ANCHOR`]) built into a temporary database, and the kiosk the
/// composition root assembles over it, as `kiosk` runs in demo mode.
struct Kiosk {
    _dir: tempfile::TempDir,
    demo: DemoHandles,
    platform: std::sync::Arc<kiosk::store::platform::SqlitePlatform>,
}

/// A dated policy with epidemic relief in force around the tests' day (三.3, 四.1 备注).
const RELIEF_POLICY: &str = "[[epidemic_relief]]\nname = \"test relief\"\nfrom = \"2026-01-01T00:00:00+08:00\"\nuntil = \"2028-01-01T00:00:00+08:00\"\n";

fn assembled(at: &str) -> (Kiosk, KioskApp) {
    assembled_with(at, false)
}

/// The kiosk over a fresh demo city; `relief`: with epidemic relief in force.
fn assembled_with(at: &str, relief: bool) -> (Kiosk, KioskApp) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("city.sqlite3");
    let mut conn = kiosk::store::schema::open(&path).unwrap();
    build_city(
        &mut conn,
        &DemoOptions {
            persons: 30,
            seed: 1,
            anchor: ANCHOR.parse().unwrap(),
        },
    )
    .unwrap();
    drop(conn);
    let mut config = KioskConfig::embedded();
    config.database.path = path.display().to_string();
    if relief {
        let policy = dir.path().join("policy.toml");
        std::fs::write(&policy, RELIEF_POLICY).unwrap();
        config.policy.file = policy.display().to_string();
    }
    let at: Timestamp = at.parse().unwrap();
    let Assembled {
        app,
        store: Some(platform),
        stop,
        demo,
        ..
    } = kiosk::app::assemble(config, Clock::manual(at)).unwrap()
    else {
        panic!("the kiosk runs on its local store")
    };
    // The periodic revert thread is not needed in a test.
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    (
        Kiosk {
            _dir: dir,
            demo: demo.unwrap(),
            platform,
        },
        app,
    )
}

fn harness_of(app: KioskApp) -> Harness<'static, KioskApp> {
    let mut h = Harness::builder()
        .with_size([1600.0, 900.0])
        .with_pixels_per_point(1.0)
        .with_theme(egui::Theme::Dark)
        .with_context_setup(KioskApp::setup)
        .build_ui_state(|ui, app: &mut KioskApp| app.ui(ui), app);
    h.run();
    h
}

fn harness(at: &str) -> (Kiosk, Harness<'static, KioskApp>) {
    let (k, app) = assembled(at);
    (k, harness_of(app))
}

/// Draw the frame that takes the touch, let the flow worker answer (deterministically: blocks
/// on its results), then draw until the screen is still.
fn settle(h: &mut Harness<'_, KioskApp>) {
    h.step();
    assert!(
        h.state_mut().settle(SETTLE),
        "the flow worker did not answer"
    );
    h.run();
}

/// Scroll the node into view (it may be below the fold of a scroll area), then touch it.
fn click(h: &mut Harness<'_, KioskApp>, label: &str) {
    h.get_by_label(label).scroll_to_me();
    h.run();
    h.get_by_label(label).click();
    settle(h);
}

fn click_containing(h: &mut Harness<'_, KioskApp>, label: &str) {
    h.get_by_label_contains(label).scroll_to_me();
    h.run();
    h.get_by_label_contains(label).click();
    settle(h);
}

fn shows(h: &Harness<'_, KioskApp>, text: &str) -> bool {
    h.query_all_by_label_contains(text).next().is_some()
}

fn advance(h: &mut Harness<'_, KioskApp>, secs: i64) {
    h.state().clock().advance(SignedDuration::from_secs(secs));
    settle(h);
}

/// Card placed with the simulator, identity checked, face verified: the services menu.
fn signed_in(at: &str, name: &str) -> (Kiosk, Harness<'static, KioskApp>) {
    signed_in_with(at, name, false)
}

fn signed_in_with(at: &str, name: &str, relief: bool) -> (Kiosk, Harness<'static, KioskApp>) {
    let (k, app) = assembled_with(at, relief);
    let mut h = harness_of(app);
    click(&mut h, &format!("放置身份证：{name}"));
    click(&mut h, "继续");
    click(&mut h, "开始核验");
    assert!(shows(&h, "请选择业务"));
    (k, h)
}

fn screen(h: &Harness<'_, KioskApp>) -> Screen {
    h.state()
        .state()
        .session()
        .expect("in a session")
        .screen
        .clone()
}

fn snapshot(h: &mut Harness<'_, KioskApp>, name: &str) {
    // llvmpipe versions differ in anti-aliasing: allow a small colour distance and a few pixels.
    let options = SnapshotOptions::new().threshold(2.0).max_failed_pixels(400);
    h.snapshot_options(name, &options);
}

#[test]
fn violations_end_to_end_from_card_to_printed_receipt() {
    let (k, mut h) = harness(DAY);
    snapshot(&mut h, "attract");
    click(&mut h, "开始办理");
    assert!(shows(&h, "请将居民身份证平放在下方读卡区"));
    click(&mut h, "放置身份证：李小红");
    // Identity is shown masked, never in clear.
    assert!(shows(&h, "李*红"));
    assert!(shows(&h, "5001**********002X"));
    assert!(!shows(&h, "50010619851120002X"));
    snapshot(&mut h, "identity");
    click(&mut h, "继续");
    assert!(shows(&h, "演示模式：人脸核验为模拟实现"));
    click(&mut h, "开始核验");
    snapshot(&mut h, "services");
    click(&mut h, "处理交通违法");
    click_containing(&mut h, LXH_PLATE);
    for v in ["5001000000000001  ", "5001000000000002  "] {
        click_containing(&mut h, v);
    }
    assert!(shows(&h, "处理后累积记分：3/12分"));
    snapshot(&mut h, "violations");
    click(&mut h, "下一步：业务须知");
    assert!(shows(&h, "【七.1】"));
    assert!(shows(&h, "【六.3】"));
    snapshot(&mut h, "notices");
    click(&mut h, "我已阅读并同意以上须知");
    click(&mut h, "确认处理");
    assert!(shows(&h, "350.00元"));
    assert!(shows(&h, "0.00元"));
    assert!(
        h.query_by_role_and_label(Role::Image, "请扫码缴款")
            .is_some()
    );
    snapshot(&mut h, "payment");
    click(&mut h, "已完成支付");
    assert!(shows(&h, "缴款成功"));
    snapshot(&mut h, "done");
    let printed = k.demo.printed.lock().unwrap().clone();
    assert_eq!(printed.len(), 1);
    assert!(printed[0].contains("手续费：0.00元"), "{}", printed[0]);
}

/// 请取走凭条 only when a receipt came out; out of paper, the kept receipt and its reprint are
/// said instead.
#[test]
fn the_done_screen_says_take_your_receipt_only_when_one_printed() {
    let (k, mut h) = signed_in(DAY, "李小红");
    *k.demo.out_of_paper.lock().unwrap() = true;
    click(&mut h, "处理交通违法");
    click_containing(&mut h, LXH_PLATE);
    click_containing(&mut h, "5001000000000002  ");
    assert!(!shows(&h, "打印机缺纸，现在不能打印凭条"));
    click(&mut h, "下一步：业务须知");
    // Said before paying, on the notices and the payment step; the person goes on.
    assert!(shows(
        &h,
        "打印机缺纸，现在不能打印凭条。缴款仍然有效，凭条会保存，可请大厅工作人员补打。"
    ));
    click(&mut h, "我已阅读并同意以上须知");
    click(&mut h, "确认处理");
    assert!(shows(&h, "打印机缺纸，现在不能打印凭条"));
    click(&mut h, "已完成支付");
    assert!(shows(&h, "缴款成功"));
    assert!(k.demo.printed.lock().unwrap().is_empty());
    assert!(!shows(&h, "取走凭条"));
    assert!(shows(&h, "凭条已保存，可请大厅工作人员补打"));
    assert!(shows(&h, "请取走身份证"));
    click(&mut h, "English");
    assert!(!shows(&h, "Take your receipt"));
    assert!(shows(
        &h,
        "The receipt is kept: staff in the hall can reprint it."
    ));

    // Printed: the receipt is there to take.
    let (k, mut h) = signed_in(DAY, "李小红");
    click(&mut h, "处理交通违法");
    click_containing(&mut h, LXH_PLATE);
    click_containing(&mut h, "5001000000000002  ");
    click(&mut h, "下一步：业务须知");
    assert!(!shows(&h, "打印机缺纸，现在不能打印凭条"));
    click(&mut h, "我已阅读并同意以上须知");
    click(&mut h, "确认处理");
    click(&mut h, "已完成支付");
    assert_eq!(k.demo.printed.lock().unwrap().len(), 1);
    assert!(shows(&h, "请取走凭条和身份证"));
    assert!(!shows(&h, "凭条已保存"));
}

#[test]
fn a_refusal_is_explained_with_its_reason_and_clause() {
    let (_k, mut h) = signed_in(DAY, "周强");
    click(&mut h, "处理交通违法");
    click_containing(&mut h, "渝A9H3J5");
    // Every row states its decision in words with the clause.
    assert!(shows(
        &h,
        "不能自助处理：只能自助处理交通技术监控设备记录的交通违法（四.1）"
    ));
    click_containing(&mut h, "5001000000000014  ");
    assert!(shows(&h, "5001000000000014：不能自助处理"));
    let Screen::Violations(sel) = screen(&h) else {
        panic!()
    };
    assert!(sel.selected.is_empty());
    // The suspended licence: everything refused under 四.3.
    let (_k, mut h) = signed_in(DAY, "张伟");
    click(&mut h, "处理交通违法");
    click_containing(&mut h, "渝A5N4Q1");
    assert!(shows(&h, "驾驶证状态异常"));
    snapshot(&mut h, "refused_suspended_licence");
}

#[test]
fn a_dispute_shows_the_authority_and_its_address() {
    let (_k, mut h) = signed_in(DAY, "李小红");
    click(&mut h, "处理交通违法");
    click_containing(&mut h, LXH_PLATE);
    let disputes = h.get_all_by_label("有异议").collect::<Vec<_>>();
    assert_eq!(disputes.len(), 2);
    disputes[0].click();
    settle(&mut h);
    assert!(shows(&h, "交巡警支队违法处理窗口"));
    click(&mut h, "关闭");
    assert!(!shows(&h, "交巡警支队违法处理窗口"));
}

#[test]
fn idle_timeout_counts_down_then_wipes_the_session() {
    let (_k, mut h) = signed_in(DAY, "李小红");
    advance(&mut h, 74);
    assert!(!shows(&h, "即将退出"));
    advance(&mut h, 1);
    assert!(shows(&h, "长时间无操作，即将退出 15s"));
    snapshot(&mut h, "idle_countdown");
    click(&mut h, "我还在");
    advance(&mut h, 89);
    assert!(shows(&h, "请选择业务"));
    advance(&mut h, 1);
    assert!(shows(&h, "长时间无操作，已退出并清除您的信息。"));
    assert!(h.state().state().session().is_none());
    assert!(!shows(&h, "李*红"));
}

#[test]
fn removing_the_card_wipes_the_session() {
    let (_k, mut h) = signed_in(DAY, "李小红");
    click(&mut h, "处理交通违法");
    click(&mut h, "取走身份证 / remove card");
    assert!(shows(&h, "已退出并清除您的信息。"));
    // The card is gone: nothing to take.
    assert!(!shows(&h, "请取走身份证"));
    assert!(matches!(h.state().state(), State::Attract { .. }));
    assert!(!shows(&h, "5001**********002X"));
}

/// Issue 13 item 7: a decision handled but unpaid shows as 待缴款 on the violations screen and
/// 去缴款 leads to the payment screen (黄勇's decision made elsewhere, overdue: 290.00元).
#[test]
fn an_unpaid_decision_shows_as_awaiting_payment_and_is_paid_from_the_violations_screen() {
    let (k, mut h) = signed_in(DAY, "黄勇");
    click(&mut h, "处理交通违法");
    click_containing(&mut h, "渝A4C6E2");
    assert!(shows(&h, "待缴款"));
    click(&mut h, "去缴款");
    assert!(shows(&h, "请扫码缴款"));
    click(&mut h, "已完成支付");
    assert!(shows(&h, "缴款成功"));
    assert_eq!(k.demo.printed.lock().unwrap().len(), 1);
}

/// After 退出 the card is still on the reader: 请取走身份证 until it is removed.
#[test]
fn exit_asks_for_the_card_until_it_is_removed() {
    let (_k, mut h) = signed_in(DAY, "李小红");
    click(&mut h, "退出");
    assert!(shows(&h, "已退出并清除您的信息。"));
    assert!(shows(&h, "请取走身份证。"));
    assert!(!shows(&h, "李*红"));
    click(&mut h, "取走身份证 / remove card");
    assert!(!shows(&h, "请取走身份证"));
}

#[test]
fn the_maintenance_window_closes_handling_but_not_look_ups() {
    let (_k, mut h) = signed_in(NIGHT, "李小红");
    assert!(shows(&h, "暂停处理和缴款"));
    click(&mut h, "处理交通违法");
    click_containing(&mut h, LXH_PLATE);
    // Look-ups are open: the list is shown, each refused under 六.7, with the reopening time.
    assert!(shows(&h, "恢复时间： 01:00"));
    assert!(shows(
        &h,
        "每天22时至次日1时银行对账维护，此时段不能处理交通违法（六.7）"
    ));
    click(&mut h, "下一步：业务须知");
    assert!(matches!(screen(&h), Screen::Violations(_)));
    snapshot(&mut h, "maintenance_window");
}

/// 六.7 is said on the attract screen, before any card: closed now, reopening at 01:00.
#[test]
fn clause_6_7_the_attract_screen_says_the_maintenance_window_before_any_card() {
    let (_k, mut h) = harness("2026-11-25T22:30:00+08:00");
    assert!(matches!(h.state().state(), State::Attract { .. }));
    assert!(shows(&h, "暂停处理和缴款，可以查询。恢复时间： 01:00"));
    click(&mut h, "开始办理");
    assert!(shows(&h, "暂停处理和缴款，可以查询。恢复时间： 01:00"));
    click(&mut h, "English");
    assert!(shows(
        &h,
        "handling and payment are closed, look-ups are open. Reopens at 01:00"
    ));
    // In the day there is none.
    let (_k, h) = harness(DAY);
    assert!(!shows(&h, "暂停处理和缴款"));
}

#[test]
fn filing_by_the_owners_qr_code_with_face_verification() {
    let (_k, mut h) = signed_in(DAY, "李小红");
    click(&mut h, "备案非本人机动车");
    assert!(shows(&h, "您还没有备案他人名下的机动车。"));
    click(&mut h, "扫描车主二维码备案");
    click(&mut h, "扫描车主二维码（被篡改）");
    assert!(shows(&h, "二维码无效或已被篡改"));
    click(&mut h, "扫描车主二维码（已过期）");
    assert!(shows(&h, "二维码已过期"));
    click_containing(&mut h, "（已有3人备案）");
    assert!(shows(&h, "该车已有3名其他驾驶人备案"));
    click_containing(&mut h, "（有效）");
    assert!(shows(&h, "所有人：刘*"));
    click(&mut h, "确认并人脸核验");
    click(&mut h, "开始核验");
    assert!(shows(&h, "备案申请已提交"));
    assert!(shows(&h, "待审核"));
    click(&mut h, "返回");
    click(&mut h, "解除备案");
    assert!(shows(&h, "已解除备案。"));
}

#[test]
fn the_three_filings_limit_is_explained() {
    let (k, mut h) = signed_in(DAY, "赵敏");
    click(&mut h, "备案非本人机动车");
    assert_eq!(h.get_all_by_label("解除备案").count(), 3);
    click(&mut h, "扫描车主二维码备案");
    // 吴丽's car, which 赵敏 has not filed.
    let owner = kiosk::domain::IdNumber::parse("500109199501010170").unwrap();
    let now = h.state().clock().now();
    let qr = kiosk::app::sim_source::own_vehicle_qr(&k.platform, &owner, now).unwrap();
    h.state_mut().send(kiosk::flow::Event::Scanned(qr));
    settle(&mut h);
    assert!(shows(
        &h,
        "您已备案3辆他人名下机动车，需先解除一辆才能新增（三.2）"
    ));
}

/// Touch the keypad's keys (buttons: a digit may also be shown as text elsewhere).
fn keys(h: &mut Harness<'_, KioskApp>, s: &str) {
    for c in s.chars() {
        let label = c.to_string();
        h.get_by_role_and_label(Role::Button, &label).click();
        settle(h);
    }
}

fn last_code(k: &Kiosk) -> String {
    k.demo.outbox.lock().unwrap().last().unwrap().code.clone()
}

#[test]
fn clause_3_3_a_units_vehicle_is_filed_by_sms_to_its_manager_while_relief_is_in_force() {
    let (k, mut h) = signed_in_with(DAY, "李小红", true);
    click(&mut h, "备案非本人机动车");
    click(&mut h, "短信验证备案");
    keys(&mut h, "A7U5W3");
    assert!(shows(&h, "渝A7U5W3"));
    click(&mut h, "发送验证码");
    assert!(shows(&h, "验证码已发送至单位管理人手机 139****0005"));
    // The simulator's outbox shows the SMS.
    assert!(shows(&h, "→ 139****0005"));
    let code = last_code(&k);
    keys(&mut h, &code);
    click(&mut h, "确定");
    assert!(shows(&h, "单位管理人短信验证"));
    click(&mut h, "确认并人脸核验");
    click(&mut h, "开始核验");
    assert!(shows(&h, "备案申请已提交"));
}

#[test]
fn clause_3_3_without_relief_a_units_vehicle_is_refused_before_any_sms() {
    let (k, mut h) = signed_in(DAY, "李小红");
    click(&mut h, "备案非本人机动车");
    click(&mut h, "短信验证备案");
    keys(&mut h, "A7U5W3");
    click(&mut h, "发送验证码");
    assert!(shows(&h, "三.3"));
    assert!(k.demo.outbox.lock().unwrap().is_empty());
}

#[test]
fn register_with_the_on_screen_keypad() {
    let (k, mut h) = signed_in(DAY, "张伟");
    click(&mut h, "注册");
    keys(&mut h, "13912345678");
    click(&mut h, "发送验证码");
    let code = last_code(&k);
    keys(&mut h, &code);
    click(&mut h, "确定");
    assert!(shows(&h, "注册成功。"));
}

/// Registration's code goes to the number the person typed, not to a vehicle owner's phone.
#[test]
fn registration_says_the_code_went_to_the_number_entered() {
    let (_k, mut h) = signed_in(DAY, "张伟");
    click(&mut h, "注册");
    keys(&mut h, "13912345678");
    click(&mut h, "发送验证码");
    assert!(shows(&h, "验证码已发送至 139****5678"));
    assert!(!shows(&h, "车主手机"));
    click(&mut h, "English");
    assert!(shows(&h, "Code sent to 139****5678"));
    assert!(!shows(&h, "owner's phone"));
}

#[test]
fn feedback_download_and_help() {
    let (k, mut h) = signed_in(DAY, "李小红");
    click(&mut h, "意见反馈");
    click(&mut h, "操作不便");
    assert!(shows(&h, "感谢您的反馈。"));
    // Saved in the store, not only thanked for.
    let saved: i64 = k
        .platform
        .with_connection_ref(
            |c| Ok(c.query_row("SELECT count(*) FROM feedback", [], |r| r.get(0))?),
        )
        .unwrap();
    assert_eq!(saved, 1);
    click(&mut h, "返回");
    click(&mut h, "下载APP");
    assert!(
        h.query_by_role_and_label(Role::Image, "扫码下载APP")
            .is_some()
    );
    assert!(shows(&h, "https://cq.122gov.cn"));
    snapshot(&mut h, "download_app");
    click(&mut h, "返回");
    click(&mut h, "帮助");
    assert!(shows(&h, "023-68620626"));
}

#[test]
fn english_toggle_on_every_screen() {
    let (_k, mut h) = harness(DAY);
    click(&mut h, "English");
    assert!(shows(&h, "Traffic Violation Self-Service"));
    click(&mut h, "放置身份证：周强");
    assert!(shows(&h, "Check your identity"));
    click(&mut h, "Continue");
    click(&mut h, "Verify");
    click(&mut h, "Handle violations");
    click_containing(&mut h, "渝A9H3J5");
    assert!(shows(
        &h,
        "Cannot be handled here: Only violations recorded by traffic cameras"
    ));
    snapshot(&mut h, "violations_english");
    click(&mut h, "中文");
    assert!(shows(&h, "未处理的交通违法"));
}

#[test]
fn operator_pin_opens_the_operator_screen() {
    let (_k, mut h) = harness(DAY);
    click(&mut h, "运维");
    keys(&mut h, "1234");
    click(&mut h, "确定");
    assert!(shows(&h, "密码错误。"));
    keys(&mut h, "246810");
    click(&mut h, "确定");
    assert!(shows(&h, "运维界面"));
    click(&mut h, "打印测试页");
    assert!(shows(&h, "上次打印：已打印"));
    assert!(shows(&h, "wrong operator PIN"));
    snapshot(&mut h, "operator");
    click(&mut h, "关闭运维界面");
    assert!(shows(&h, "开始办理"));
}

#[test]
fn close_requests_are_refused() {
    let (_k, mut h) = harness(DAY);
    h.input_mut()
        .viewports
        .entry(egui::ViewportId::ROOT)
        .or_default()
        .events
        .push(egui::ViewportEvent::Close);
    h.step();
    let commands = &h.output().viewport_output[&egui::ViewportId::ROOT].commands;
    assert!(
        commands.contains(&egui::ViewportCommand::CancelClose),
        "{commands:?}"
    );
}

#[test]
fn touch_targets_are_at_least_15_mm() {
    let (_k, mut h) = signed_in(DAY, "周强");
    click(&mut h, "处理交通违法");
    click_containing(&mut h, "渝A9H3J5");
    let config = KioskConfig::embedded();
    let per_mm = 1600.0 / config.screen.width_mm;
    let min = config.screen.min_touch_mm * per_mm;
    let kiosk_width = 1600.0 - 420.0;
    let mut checked = 0;
    for b in h.get_all_by_role(Role::Button) {
        let r = b.rect();
        if r.min.x >= kiosk_width {
            continue; // the simulator panel is not the kiosk screen
        }
        assert!(
            r.height() + 0.5 >= min && r.width() + 0.5 >= min,
            "{:?} is {:?}, under {min} points",
            b.accesskit_node().label(),
            r.size()
        );
        checked += 1;
    }
    assert!(checked > 10);
}

#[test]
fn readme_screenshots() {
    let out = std::env::var("KIOSK_SCREENSHOTS").ok();
    let (_k, mut h) = harness(DAY);
    let mut shots: Vec<(&str, image::RgbaImage)> = vec![("attract", h.render().unwrap())];
    click(&mut h, "放置身份证：李小红");
    shots.push(("identity", h.render().unwrap()));
    click(&mut h, "继续");
    click(&mut h, "开始核验");
    click(&mut h, "处理交通违法");
    click_containing(&mut h, LXH_PLATE);
    click_containing(&mut h, "5001000000000001  ");
    click_containing(&mut h, "5001000000000002  ");
    shots.push(("violations", h.render().unwrap()));
    click(&mut h, "下一步：业务须知");
    shots.push(("notices", h.render().unwrap()));
    click(&mut h, "我已阅读并同意以上须知");
    click(&mut h, "确认处理");
    shots.push(("payment", h.render().unwrap()));
    click(&mut h, "已完成支付");
    shots.push(("done", h.render().unwrap()));
    click(&mut h, "首页");
    click(&mut h, "备案非本人机动车");
    click(&mut h, "扫描车主二维码备案");
    click_containing(&mut h, "（有效）");
    shots.push(("filing", h.render().unwrap()));
    for (name, img) in &shots {
        assert_eq!((img.width(), img.height()), (1600, 900), "{name}");
        if let Some(dir) = &out {
            std::fs::create_dir_all(dir).unwrap();
            img.save(format!("{dir}/{name}.png")).unwrap();
        }
    }
}

/// The kiosk as `cargo run` assembles it on first start: the demo database created on disk
/// (anchored today), the platform store behind the flow, the ESC/POS printer simulator behind
/// the peripherals. A driver handles and pays; the receipt is rendered as an image and the
/// database passes `db check`.
#[test]
fn the_assembled_kiosk_runs_on_the_demo_database_from_card_to_receipt_image() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = KioskConfig::embedded();
    config.database.path = dir.path().join("city.sqlite3").display().to_string();
    config.database.demo_persons = 30;
    // The demo city is anchored at 09:00 today (UTC+8); an hour later handling is open.
    let at = kiosk::store::demo::today_anchor() + SignedDuration::from_hours(1);
    let Assembled {
        app,
        store: Some(platform),
        stop,
        ..
    } = kiosk::app::assemble(config, Clock::manual(at)).unwrap()
    else {
        panic!("the kiosk runs on its local store")
    };
    let mut h = harness_of(app);
    click(&mut h, "放置身份证：李小红");
    assert!(shows(&h, "李*红"));
    click(&mut h, "继续");
    click(&mut h, "开始核验");
    click(&mut h, "处理交通违法");
    click_containing(&mut h, "本人名下");
    let Screen::Violations(sel) = screen(&h) else {
        panic!("{:?}", screen(&h))
    };
    let payable: Vec<String> = sel
        .list
        .violations
        .iter()
        .filter(|v| v.decision.eligible())
        .map(|v| v.facts.id.clone())
        .collect();
    assert!(!payable.is_empty());
    for v in &payable {
        click_containing(&mut h, &format!("{v}  "));
    }
    click(&mut h, "下一步：业务须知");
    click(&mut h, "我已阅读并同意以上须知");
    click(&mut h, "确认处理");
    click(&mut h, "已完成支付");
    assert!(shows(&h, "缴款成功"));
    // The ESC/POS bytes went through the printer simulator and came out as a PNG.
    let pngs: Vec<_> = std::fs::read_dir(dir.path().join("printed-receipts"))
        .unwrap()
        .collect();
    assert_eq!(pngs.len(), 1);
    // Paid once, and the database's invariants and audit chain hold.
    let report = platform
        .with_connection_ref(|c| Ok(kiosk::store::check::run(c)?))
        .unwrap();
    assert!(report.breaches.is_empty(), "{:?}", report.breaches);
    click(&mut h, "首页");
    click(&mut h, "处理交通违法");
    click_containing(&mut h, "本人名下");
    let Screen::Violations(after) = screen(&h) else {
        panic!()
    };
    assert!(
        after
            .list
            .violations
            .iter()
            .all(|v| !payable.contains(&v.facts.id))
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// A platform whose person look-up hangs until the test lets it go; every other call fails.
struct HangingPlatform {
    gate: std::sync::mpsc::Receiver<()>,
}

mod hanging {
    use super::HangingPlatform;
    use jiff::Timestamp;
    use kiosk::domain::{IdNumber, Plate};
    use kiosk::flow::ports::*;

    fn down() -> BackendError {
        BackendError::Unavailable("test platform".into())
    }

    impl KioskBackend for HangingPlatform {
        fn person(&mut self, _: &IdNumber, _: Timestamp) -> Result<PersonView, BackendError> {
            let _ = self.gate.recv();
            Err(down())
        }
        fn violations(
            &mut self,
            _: &IdNumber,
            _: &Plate,
            _: Timestamp,
        ) -> Result<ViolationList, BackendError> {
            Err(down())
        }
        fn handle(
            &mut self,
            _: &IdNumber,
            _: &Plate,
            _: &[String],
            _: &str,
            _: Timestamp,
        ) -> Result<HandlingView, HandleError> {
            Err(down().into())
        }
        fn pay(&mut self, _: &str, _: Timestamp) -> Result<PaymentView, PayError> {
            Err(down().into())
        }
        fn filings(&mut self, _: &IdNumber, _: Timestamp) -> Result<Vec<FilingView>, BackendError> {
            Err(down())
        }
        fn check_filing_qr(
            &mut self,
            _: &IdNumber,
            _: &str,
            _: Timestamp,
        ) -> Result<FilingCandidate, FilingError> {
            Err(down().into())
        }
        fn request_owner_code(
            &mut self,
            _: &IdNumber,
            _: &Plate,
            _: Timestamp,
        ) -> Result<SmsSent, FilingError> {
            Err(down().into())
        }
        fn check_owner_code(
            &mut self,
            _: &IdNumber,
            _: &Plate,
            _: &str,
            _: Timestamp,
        ) -> Result<FilingCandidate, FilingError> {
            Err(down().into())
        }
        fn submit_filing(
            &mut self,
            _: &IdNumber,
            _: &FilingCandidate,
            _: Timestamp,
        ) -> Result<FilingView, FilingError> {
            Err(down().into())
        }
        fn unfile(&mut self, _: &IdNumber, _: &str, _: Timestamp) -> Result<(), BackendError> {
            Err(down())
        }
        fn request_register_code(
            &mut self,
            _: &IdNumber,
            _: &str,
            _: Timestamp,
        ) -> Result<SmsSent, BackendError> {
            Err(down())
        }
        fn register(
            &mut self,
            _: &IdNumber,
            _: &str,
            _: &str,
            _: Timestamp,
        ) -> Result<(), BackendError> {
            Err(down())
        }
        fn feedback(
            &mut self,
            _: Option<&IdNumber>,
            _: FeedbackTopic,
            _: Timestamp,
        ) -> Result<(), BackendError> {
            Err(down())
        }
    }
}

/// The screen answers a touch in the very next frame while the platform hangs, says 请稍候 once
/// a call has been outstanding for 300 ms on the kiosk's clock (not before), and drops the late
/// answer of a session the person already ended.
#[test]
fn a_hanging_platform_never_holds_the_screen() {
    let (k, app) = assembled(DAY);
    drop(app);
    let card = kiosk::app::sim_source::demo_cards(&k.platform)
        .remove(0)
        .card;
    let (release, gate) = std::sync::mpsc::channel();
    let config = KioskConfig::embedded();
    let at: Timestamp = DAY.parse().unwrap();
    let clock = Clock::manual(at);
    let peripherals = kiosk::app::DevicePeripherals::open(
        &config,
        None,
        None,
        Default::default(),
        Default::default(),
    )
    .unwrap();
    let driver = kiosk::flow::Driver::new(
        State::new(&config, at),
        kiosk::flow::Ports {
            backend: Box::new(HangingPlatform { gate }),
            peripherals: Box::new(peripherals),
            face: Box::new(kiosk::app::DemoFaceVerifier::default()),
        },
    );
    // The loading screen's spinner repaints continuously: frames are stepped one by one.
    let mut h = Harness::builder()
        .with_size([1600.0, 900.0])
        .with_pixels_per_point(1.0)
        .with_context_setup(KioskApp::setup)
        .build_ui_state(
            |ui, app: &mut KioskApp| app.ui(ui),
            KioskApp::new(config, driver, clock, None),
        );
    h.step();
    h.state_mut().send(kiosk::flow::Event::CardPlaced(card));
    h.step();
    assert!(shows(&h, "正在查询"));
    assert!(h.query_by_label("请稍候…").is_none(), "busy too early");
    h.state().clock().advance(SignedDuration::from_millis(299));
    h.step();
    assert!(h.query_by_label("请稍候…").is_none(), "busy too early");
    h.state().clock().advance(SignedDuration::from_millis(1));
    h.step();
    assert!(h.query_by_label("请稍候…").is_some(), "no busy state");
    // The call still hangs; 退出 is answered in the next frame.
    h.get_by_label("退出").click();
    h.step();
    assert!(matches!(h.state().state(), State::Attract { .. }));
    h.step();
    assert!(shows(&h, "已退出并清除您的信息"));
    // The late answer belongs to the ended session: dropped, the kiosk stays on the attract screen.
    release.send(()).unwrap();
    assert!(h.state_mut().settle(SETTLE));
    h.run();
    assert!(matches!(h.state().state(), State::Attract { .. }));
    assert!(h.query_by_label("请稍候…").is_none());
    assert!(
        !shows(&h, "暂时无法连接平台"),
        "the dropped answer's error is not shown"
    );
}
