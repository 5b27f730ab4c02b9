//! The real kiosk UI, driven through AccessKit labels with egui_kittest, rendered with wgpu
//! (Mesa llvmpipe in CI). Snapshots live in `tests/snapshots/`; `UPDATE_SNAPSHOTS=1` rewrites them.
//! `KIOSK_SCREENSHOTS=docs/screenshots cargo test --test ui readme_screenshots` writes the README's
//! screenshots.

use egui::Role;
use egui_kittest::kittest::{NodeT, Queryable};
use egui_kittest::{Harness, SnapshotOptions};
use jiff::{SignedDuration, Timestamp};
use kiosk::config::KioskConfig;
use kiosk::flow::{Screen, State};
use kiosk::ui::{Clock, KioskApp};

/// 10:00 in Chongqing: handling open.
const DAY: &str = "2026-11-25T10:00:00+08:00";
/// 23:00 in Chongqing: the maintenance window (六.7).
const NIGHT: &str = "2026-11-25T23:00:00+08:00";

fn harness(at: &str) -> Harness<'static, KioskApp> {
    let at: Timestamp = at.parse().unwrap();
    let app = KioskApp::demo(KioskConfig::embedded(), Clock::manual(at));
    let mut h = Harness::builder()
        .with_size([1600.0, 900.0])
        .with_pixels_per_point(1.0)
        .with_theme(egui::Theme::Dark)
        .with_context_setup(KioskApp::setup)
        .build_ui_state(|ui, app: &mut KioskApp| app.ui(ui), app);
    h.run();
    h
}

/// Scroll the node into view (it may be below the fold of a scroll area), then touch it.
fn click(h: &mut Harness<'_, KioskApp>, label: &str) {
    h.get_by_label(label).scroll_to_me();
    h.run();
    h.get_by_label(label).click();
    h.run();
}

fn click_containing(h: &mut Harness<'_, KioskApp>, label: &str) {
    h.get_by_label_contains(label).scroll_to_me();
    h.run();
    h.get_by_label_contains(label).click();
    h.run();
}

fn shows(h: &Harness<'_, KioskApp>, text: &str) -> bool {
    h.query_all_by_label_contains(text).next().is_some()
}

fn advance(h: &mut Harness<'_, KioskApp>, secs: i64) {
    h.state().clock().advance(SignedDuration::from_secs(secs));
    h.run();
}

/// Card placed with the simulator, identity checked, face verified: the services menu.
fn signed_in(at: &str, name: &str) -> Harness<'static, KioskApp> {
    let mut h = harness(at);
    click(&mut h, &format!("放置身份证：{name}"));
    click(&mut h, "继续");
    click(&mut h, "开始核验");
    assert!(shows(&h, "请选择业务"));
    h
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
    let mut h = harness(DAY);
    snapshot(&mut h, "attract");
    click(&mut h, "开始办理");
    assert!(shows(&h, "请将居民身份证平放在下方读卡区"));
    click(&mut h, "放置身份证：张三");
    // Identity is shown masked, never in clear.
    assert!(shows(&h, "张*"));
    assert!(shows(&h, "5001**********0017"));
    assert!(!shows(&h, "500103199003070017"));
    snapshot(&mut h, "identity");
    click(&mut h, "继续");
    assert!(shows(&h, "演示模式：人脸核验为模拟实现"));
    click(&mut h, "开始核验");
    snapshot(&mut h, "services");
    click(&mut h, "处理交通违法");
    click_containing(&mut h, "渝A12345");
    for v in ["V0001  ", "V0002  ", "V0003  "] {
        click_containing(&mut h, v);
    }
    assert!(shows(
        &h,
        "处理后累积记分：7/12分，本记分周期至2027-06-11止"
    ));
    snapshot(&mut h, "violations");
    click(&mut h, "下一步：业务须知");
    assert!(shows(&h, "【六.4】该违法发生在“川”"));
    assert!(shows(&h, "【七.1】"));
    assert!(shows(&h, "【六.3】"));
    snapshot(&mut h, "notices");
    click(&mut h, "我已阅读并同意以上须知");
    click(&mut h, "确认处理");
    assert!(shows(&h, "517.50元"));
    assert!(shows(&h, "67.50元"));
    assert!(shows(&h, "0.00元"));
    assert!(
        h.query_by_role_and_label(Role::Image, "请扫码缴款")
            .is_some()
    );
    snapshot(&mut h, "payment");
    click(&mut h, "已完成支付");
    assert!(shows(&h, "缴款成功"));
    // The simulator shows the receipt the demo printer printed.
    assert!(shows(&h, "交通违法自助处理缴款凭条"));
    assert!(shows(&h, "手续费：0.00元"));
    snapshot(&mut h, "done");
    let printed = h.state().simulator().unwrap().printed();
    assert_eq!(printed.lock().unwrap().len(), 1);
}

#[test]
fn a_refusal_is_explained_with_its_reason_and_clause() {
    let mut h = signed_in(DAY, "张三");
    click(&mut h, "处理交通违法");
    click_containing(&mut h, "渝A12345");
    // Every row states its decision in words with the clause.
    assert!(shows(
        &h,
        "不能自助处理：只能自助处理交通技术监控设备记录的交通违法（四.1）"
    ));
    click_containing(&mut h, "V0004  ");
    assert!(shows(&h, "V0004：不能自助处理"));
    let Screen::Violations(sel) = screen(&h) else {
        panic!()
    };
    assert!(sel.selected.is_empty());
    // The suspended licence: everything refused under 四.3.
    let mut h = signed_in(DAY, "王五");
    click(&mut h, "处理交通违法");
    click_containing(&mut h, "渝A66666");
    assert!(shows(&h, "驾驶证状态异常"));
    snapshot(&mut h, "refused_suspended_licence");
}

#[test]
fn a_dispute_shows_the_authority_and_its_address() {
    let mut h = signed_in(DAY, "张三");
    click(&mut h, "处理交通违法");
    click_containing(&mut h, "渝A12345");
    let disputes = h.get_all_by_label("有异议").collect::<Vec<_>>();
    assert_eq!(disputes.len(), 5);
    disputes[1].click();
    h.run();
    assert!(shows(
        &h,
        "成都市公安局交通管理局，地址：成都市青羊区草市街2号"
    ));
    click(&mut h, "关闭");
    assert!(!shows(&h, "草市街"));
}

#[test]
fn idle_timeout_counts_down_then_wipes_the_session() {
    let mut h = signed_in(DAY, "张三");
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
    assert!(!shows(&h, "张*"));
}

#[test]
fn removing_the_card_wipes_the_session() {
    let mut h = signed_in(DAY, "张三");
    click(&mut h, "处理交通违法");
    click(&mut h, "取走身份证 / remove card");
    assert!(shows(&h, "已退出并清除您的信息，请取走身份证。"));
    assert!(matches!(h.state().state(), State::Attract { .. }));
    assert!(!shows(&h, "5001**********0017"));
}

#[test]
fn the_maintenance_window_closes_handling_but_not_look_ups() {
    let mut h = signed_in(NIGHT, "张三");
    assert!(shows(&h, "暂停处理和缴款"));
    click(&mut h, "处理交通违法");
    click_containing(&mut h, "渝A12345");
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

#[test]
fn filing_by_the_owners_qr_code_with_face_verification() {
    let mut h = signed_in(DAY, "张三");
    click(&mut h, "备案非本人机动车");
    assert!(shows(&h, "您还没有备案他人名下的机动车。"));
    click(&mut h, "扫描车主二维码备案");
    click(&mut h, "扫描车主二维码（被篡改）");
    assert!(shows(&h, "二维码无效或已被篡改"));
    click(&mut h, "扫描车主二维码（已过期）");
    assert!(shows(&h, "二维码已过期"));
    click(&mut h, "扫描车主二维码（该车已有3人备案）");
    assert!(shows(&h, "该车已有3名其他驾驶人备案"));
    click(&mut h, "扫描车主二维码（有效）");
    assert!(shows(&h, "所有人：赵*"));
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
    let mut h = signed_in(DAY, "孙八");
    click(&mut h, "备案非本人机动车");
    assert_eq!(h.get_all_by_label("解除备案").count(), 3);
    click(&mut h, "扫描车主二维码备案");
    click(&mut h, "扫描车主二维码（有效）");
    assert!(shows(
        &h,
        "您已备案3辆他人名下机动车，需先解除一辆才能新增（三.2）"
    ));
}

fn keys(h: &mut Harness<'_, KioskApp>, s: &str) {
    for c in s.chars() {
        click(h, &c.to_string());
    }
}

fn last_code(h: &Harness<'_, KioskApp>) -> String {
    let outbox = h.state().simulator().unwrap().outbox();
    outbox.lock().unwrap().last().unwrap().code.clone()
}

#[test]
fn filing_a_units_vehicle_by_sms_to_its_manager() {
    let mut h = signed_in(DAY, "张三");
    click(&mut h, "备案非本人机动车");
    click(&mut h, "短信验证备案");
    keys(&mut h, "C11111");
    assert!(shows(&h, "渝C11111"));
    click(&mut h, "发送验证码");
    assert!(shows(&h, "验证码已发送至单位管理人手机 137****2222"));
    // The simulator's outbox shows the SMS.
    assert!(shows(&h, "→ 137****2222"));
    let code = last_code(&h);
    keys(&mut h, &code);
    click(&mut h, "确定");
    assert!(shows(&h, "单位管理人短信验证"));
    click(&mut h, "确认并人脸核验");
    click(&mut h, "开始核验");
    assert!(shows(&h, "备案申请已提交"));
}

#[test]
fn register_with_the_on_screen_keypad() {
    let mut h = signed_in(DAY, "王五");
    click(&mut h, "注册");
    keys(&mut h, "13912345678");
    click(&mut h, "发送验证码");
    let code = last_code(&h);
    keys(&mut h, &code);
    click(&mut h, "确定");
    assert!(shows(&h, "注册成功。"));
}

#[test]
fn feedback_download_and_help() {
    let mut h = signed_in(DAY, "张三");
    click(&mut h, "意见反馈");
    click(&mut h, "操作不便");
    assert!(shows(&h, "感谢您的反馈。"));
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
    let mut h = harness(DAY);
    click(&mut h, "English");
    assert!(shows(&h, "Traffic Violation Self-Service"));
    click(&mut h, "放置身份证：张三");
    assert!(shows(&h, "Check your identity"));
    click(&mut h, "Continue");
    click(&mut h, "Verify");
    click(&mut h, "Handle violations");
    click_containing(&mut h, "渝A12345");
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
    let mut h = harness(DAY);
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
    let mut h = harness(DAY);
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
    let mut h = signed_in(DAY, "张三");
    click(&mut h, "处理交通违法");
    click_containing(&mut h, "渝A12345");
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
    let mut h = harness(DAY);
    let mut shots: Vec<(&str, image::RgbaImage)> = vec![("attract", h.render().unwrap())];
    click(&mut h, "放置身份证：张三");
    shots.push(("identity", h.render().unwrap()));
    click(&mut h, "继续");
    click(&mut h, "开始核验");
    click(&mut h, "处理交通违法");
    click_containing(&mut h, "渝A12345");
    click_containing(&mut h, "V0001  ");
    click_containing(&mut h, "V0002  ");
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
    click(&mut h, "扫描车主二维码（有效）");
    shots.push(("filing", h.render().unwrap()));
    for (name, img) in &shots {
        assert_eq!((img.width(), img.height()), (1600, 900), "{name}");
        if let Some(dir) = &out {
            std::fs::create_dir_all(dir).unwrap();
            img.save(format!("{dir}/{name}.png")).unwrap();
        }
    }
}

/// The kiosk as `cargo run` assembles it: the demo database on disk, the platform store behind
/// the flow, the ESC/POS printer simulator behind the peripherals, the simulator panel offering
/// the database's demo cards. A driver handles and pays; the receipt is rendered as an image and
/// the database passes `db check`.
#[test]
fn the_assembled_kiosk_runs_on_the_demo_database_from_card_to_receipt_image() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = KioskConfig::embedded();
    config.database.path = dir.path().join("city.sqlite3").display().to_string();
    config.database.demo_persons = 30;
    // The demo city is anchored at 09:00 today (UTC+8); an hour later handling is open.
    let at = kiosk::store::demo::today_anchor() + SignedDuration::from_hours(1);
    let kiosk::app::Assembled {
        app,
        platform,
        stop,
    } = kiosk::app::assemble(config, Clock::manual(at)).unwrap();
    let mut h = Harness::builder()
        .with_size([1600.0, 900.0])
        .with_pixels_per_point(1.0)
        .with_context_setup(KioskApp::setup)
        .build_ui_state(|ui, app: &mut KioskApp| app.ui(ui), app);
    h.run();
    click(&mut h, "放置身份证：李小红");
    assert!(shows(&h, "李*红"));
    click(&mut h, "继续");
    click(&mut h, "开始核验");
    click(&mut h, "处理交通违法");
    click_containing(&mut h, "本人名下");
    let me = kiosk::domain::IdNumber::parse("50010619851120002X").unwrap();
    use kiosk::store::platform::Platform;
    let v = platform
        .vehicles(&me, at)
        .unwrap()
        .into_iter()
        .find(|v| v.relation == kiosk::rules::Relation::Own)
        .unwrap();
    let key = v.key();
    let list = platform.violations(&me, &key, at).unwrap();
    let payable: Vec<_> = list
        .violations
        .iter()
        .filter(|v| v.decision.eligible())
        .collect();
    assert!(!payable.is_empty());
    for v in &payable {
        click_containing(&mut h, &v.facts.id);
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
    let after = platform.violations(&me, &key, at).unwrap();
    assert!(
        after
            .violations
            .iter()
            .all(|v| !v.decision.eligible() || !payable.iter().any(|p| p.facts.id == v.facts.id))
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
}
