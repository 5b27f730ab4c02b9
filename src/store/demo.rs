//! The demo city: a deterministic, synthetic population whose people and vehicles cover every
//! branch of the rules. No real person's data: names are drawn from common surname and given-name
//! lists, ID numbers are synthesized with Chongqing division codes and valid check characters.
//!
//! The city is determined by `(persons, seed, anchor)`: its own small PRNG (SplitMix64) is seeded
//! by `seed`; every time in it is relative to `anchor` ("today" of the demo). The well-known demo
//! persons ([`DEMO_PERSONS`]) come first, with fixed ID numbers, for the UI simulator's cards.

use std::collections::HashMap;
use std::path::Path;

use jiff::{SignedDuration, Timestamp, civil::Date};
use rusqlite::Connection;

use super::sql::{Sql, SqlError};
use super::{StoreError, audit, schema};
use crate::domain::IdNumber;
use crate::rules::{cycle, maintenance};
use crate::sql_params;

/// A well-known demo person: a card the UI simulator panel offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoPerson {
    pub id_number: &'static str,
    pub name: &'static str,
    /// What this card shows, in one line.
    pub description: &'static str,
}

/// The well-known demo persons, first in every demo city.
pub const DEMO_PERSONS: &[DemoPerson] = &[
    DemoPerson {
        id_number: "50010619851120002X",
        name: "李小红",
        description: "clean driver with 2 payable camera violations (the spec's sample card)",
    },
    DemoPerson {
        id_number: "500103199003070017",
        name: "王建国",
        description: "driver at 10 points: a 1-point violation is payable, a 3-point one would reach 12; his car has 3 filed drivers (vehicle limit)",
    },
    DemoPerson {
        id_number: "500105197805120032",
        name: "张伟",
        description: "licence suspended (status D): nothing can be handled here",
    },
    DemoPerson {
        id_number: "500107198209150056",
        name: "刘芳",
        description: "owner of a vehicle others can file (QR or SMS code to her phone)",
    },
    DemoPerson {
        id_number: "500108197501010079",
        name: "陈静",
        description: "a unit vehicle manager: the unit's car is filed to her (unit_filed)",
    },
    DemoPerson {
        id_number: "500112198806300092",
        name: "杨磊",
        description: "a renter: one violation inside the rental period, one before it",
    },
    DemoPerson {
        id_number: "500113199302140110",
        name: "赵敏",
        description: "filer at the 3-vehicle limit; sees violations from before her filing",
    },
    DemoPerson {
        id_number: "50010419860808013X",
        name: "黄勇",
        description: "a decision made elsewhere, unpaid and overdue: the late surcharge shows",
    },
    DemoPerson {
        id_number: "50011619700720015X",
        name: "周强",
        description: "out-of-province, officer-recorded, over-limit and province-not-online violations",
    },
    DemoPerson {
        id_number: "500109199501010170",
        name: "吴丽",
        description: "no driving licence: a 0-point violation on her own car is payable, a 2-point one is not",
    },
    DemoPerson {
        id_number: "500117198304030194",
        name: "徐刚",
        description: "licence reached 12 points three times in this cycle",
    },
    DemoPerson {
        id_number: "50015119910909021X",
        name: "孙婷",
        description: "a temporary driver on a rental contract",
    },
    DemoPerson {
        id_number: "500102198902180235",
        name: "马超",
        description: "owner of a scrapped car, a taxi and a large truck (vehicle branches)",
    },
];

/// The person and vehicle the crash-safety worker practises on (not part of the demo cards).
pub const PRACTICE_PERSON: &str = "500101200001010996";
pub const PRACTICE_PLATE: &str = "渝A0P0P0";

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾",
    "肖", "田", "董", "袁", "潘", "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕", "丁", "任",
    "沈", "姚",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀", "霞", "平", "刚", "桂", "英", "华", "玉", "兰", "萍", "红", "鹏", "辉", "婷", "建",
    "国", "文", "斌", "宇", "浩", "凯", "健", "俊", "帆", "琳", "晶", "欣", "雪", "梅", "颖", "雷",
    "波", "鑫",
];
/// Chongqing districts: (division code, name).
const DISTRICTS: &[(&str, &str)] = &[
    ("500101", "万州区"),
    ("500102", "涪陵区"),
    ("500103", "渝中区"),
    ("500104", "大渡口区"),
    ("500105", "江北区"),
    ("500106", "沙坪坝区"),
    ("500107", "九龙坡区"),
    ("500108", "南岸区"),
    ("500109", "北碚区"),
    ("500110", "綦江区"),
    ("500111", "大足区"),
    ("500112", "渝北区"),
    ("500113", "巴南区"),
    ("500114", "黔江区"),
    ("500115", "长寿区"),
    ("500116", "江津区"),
    ("500117", "合川区"),
    ("500118", "永川区"),
    ("500119", "南川区"),
    ("500120", "璧山区"),
    ("500151", "铜梁区"),
    ("500152", "潼南区"),
    ("500153", "荣昌区"),
    ("500154", "开州区"),
    ("500155", "梁平区"),
    ("500156", "武隆区"),
];
const ROADS: &[&str] = &[
    "解放碑路口",
    "嘉陵江大桥",
    "内环快速路",
    "渝澳大道",
    "石桥铺立交",
    "南坪转盘",
    "观音桥步行街",
    "大学城南路",
    "机场路",
    "长江滨江路",
];
/// Kinds of violation: (description, penalty, fine in yuan, points).
const KINDS: &[(&str, &str, i64, u32)] = &[
    ("机动车违反规定停放、临时停车", "fine", 150, 0),
    ("驾驶机动车不按导向车道行驶", "fine", 100, 2),
    ("机动车违反禁止标线指示", "fine", 200, 3),
    ("驾驶机动车违反道路交通信号灯通行", "fine", 200, 6),
    ("驾驶机动车超过规定时速未达20%", "warning", 0, 1),
    ("驾驶人未按规定使用安全带", "fine", 50, 1),
    ("驾驶机动车超过规定时速50%以上", "fine", 1500, 12),
    ("饮酒后驾驶机动车", "other", 1500, 12),
];
/// Authority letters of generated plates (`A` is kept for the demo persons).
const AUTHORITIES: &[char] = &['B', 'C', 'D', 'F', 'G', 'H'];
const SERIAL: &[u8] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/// SplitMix64: small, fast, deterministic.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

/// What to build.
#[derive(Debug, Clone, Copy)]
pub struct DemoOptions {
    /// Total persons (the demo persons included; never fewer than them).
    pub persons: u64,
    pub seed: u64,
    /// "Today" of the demo city; every time in it is relative to this.
    pub anchor: Timestamp,
}

impl DemoOptions {
    /// Refuse a city larger than [`MAX_DEMO_PERSONS`] before anything is written.
    pub fn check(&self) -> Result<(), DemoError> {
        if self.persons > MAX_DEMO_PERSONS {
            return Err(DemoError::TooManyPersons {
                asked: self.persons,
            });
        }
        Ok(())
    }
}

/// What was built.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CitySummary {
    pub persons: u64,
    pub licences: u64,
    pub units: u64,
    pub vehicles: u64,
    pub filings: u64,
    pub rentals: u64,
    pub violations: u64,
    pub decisions_elsewhere: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(
        "数据库中已有数据，不能再生成演示城市 / The database already holds persons; a demo city is built only into an empty database"
    )]
    NotEmpty,
    #[error(
        "演示城市最多{max}人，{asked}人太多 / A demo city has at most {max} persons, not {asked}; choose a smaller --persons",
        max = MAX_DEMO_PERSONS
    )]
    TooManyPersons { asked: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{}", schema::storage_message(.0))]
    Sqlite(rusqlite::Error),
    #[error(transparent)]
    Sql(SqlError),
    #[error(transparent)]
    Schema(#[from] schema::SchemaError),
}

impl From<SqlError> for DemoError {
    fn from(e: SqlError) -> Self {
        match e {
            SqlError::Sqlite(e) => DemoError::Sqlite(e),
            e => DemoError::Sql(e),
        }
    }
}

impl From<rusqlite::Error> for DemoError {
    fn from(e: rusqlite::Error) -> Self {
        DemoError::Sqlite(e)
    }
}

fn day(t: Timestamp) -> Date {
    maintenance::local_time(t).date()
}

fn secs(t: Timestamp) -> i64 {
    t.as_second()
}

struct Builder<'a> {
    tx: &'a dyn Sql,
    rng: Rng,
    anchor: Timestamp,
    sum: CitySummary,
    next_violation: u64,
    next_decision: i64,
    next_plate: u64,
    filings_per_vehicle: HashMap<i64, u32>,
}

impl<'a> Builder<'a> {
    fn days_ago(&self, d: i64) -> Timestamp {
        self.anchor - SignedDuration::from_hours(24 * d)
    }

    fn person(
        &mut self,
        id: &str,
        name: &str,
        phone: &str,
        district: &str,
    ) -> Result<i64, DemoError> {
        let id: i64 = self.tx
            .one("INSERT INTO persons (id_number, name, phone, address) VALUES (?1, ?2, ?3, ?4) RETURNING id", &sql_params![id, name, phone, format!("重庆市{district}")])?;
        self.sum.persons += 1;
        Ok(id)
    }

    #[allow(clippy::too_many_arguments)]
    fn licence(
        &mut self,
        person: i64,
        birth: Date,
        class: &str,
        points: u32,
        status: &str,
        full12: u32,
    ) -> Result<(), DemoError> {
        let today = day(self.anchor);
        let age18 = birth.saturating_add(jiff::Span::new().years(18 + self.rng.below(8) as i64));
        let first = if age18 < today {
            age18
        } else {
            today.saturating_sub(jiff::Span::new().days(400))
        };
        let c = cycle::cycle_containing(first, today);
        self.tx
            .exec("INSERT INTO licences (person_id, licence_class, first_issued, cycle_start, cycle_points, status, full_12_count) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", &sql_params![person, class, first.to_string(), c.start.to_string(), points, status, full12])?;
        self.sum.licences += 1;
        Ok(())
    }

    fn unit(&mut self, name: &str, credit: &str, manager_phone: &str) -> Result<i64, DemoError> {
        let id: i64 = self.tx.one(
            "INSERT INTO units (name, credit_code, manager_phone) VALUES (?1, ?2, ?3) RETURNING id",
            &sql_params![name, credit, manager_phone],
        )?;
        self.sum.units += 1;
        Ok(id)
    }

    fn vehicle(
        &mut self,
        plate: &str,
        ptype: &str,
        use_: &str,
        status: &str,
        person: Option<i64>,
        unit: Option<i64>,
    ) -> Result<i64, DemoError> {
        let id: i64 = self.tx
            .one("INSERT INTO vehicles (plate, plate_type, use_code, status, owner_person_id, owner_unit_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id", &sql_params![plate, ptype, use_, status, person, unit])?;
        self.sum.vehicles += 1;
        Ok(id)
    }

    /// A generated plate: unique by construction (a bijection of the counter).
    fn generated_plate(&mut self, new_energy: bool) -> String {
        let k = self.next_plate;
        self.next_plate += 1;
        let auth = AUTHORITIES[(k % AUTHORITIES.len() as u64) as usize];
        let n = k / AUTHORITIES.len() as u64;
        if new_energy {
            // 渝BD + a serial character + 4 digits: 34 × 10_000 per authority.
            let d = (n * 7919) % 340_000;
            let c = SERIAL[(d / 10_000) as usize] as char;
            format!("渝{auth}D{c}{:04}", d % 10_000)
        } else {
            let space = 34u64.pow(5);
            let mut d = (n.wrapping_mul(1_000_003)) % space;
            let mut s = String::new();
            for _ in 0..5 {
                s.insert(0, SERIAL[(d % 34) as usize] as char);
                d /= 34;
            }
            format!("渝{auth}{s}")
        }
    }

    fn filing(
        &mut self,
        person: i64,
        vehicle: i64,
        method: &str,
        state: &str,
        at: Timestamp,
    ) -> Result<(), DemoError> {
        let reviewed = (state != "pending_review").then(|| secs(at) + 3600);
        self.tx
            .exec("INSERT INTO filings (person_id, vehicle_id, method, state, requested_at, reviewed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", &sql_params![person, vehicle, method, state, secs(at), reviewed])?;
        *self.filings_per_vehicle.entry(vehicle).or_default() += 1;
        self.sum.filings += 1;
        Ok(())
    }

    fn rental(
        &mut self,
        vehicle: i64,
        person: i64,
        role: &str,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<(), DemoError> {
        self.tx
            .exec("INSERT INTO rentals (vehicle_id, person_id, role, start_at, end_at, filed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", &sql_params![vehicle, person, role, secs(start), secs(end), secs(start)])?;
        self.sum.rentals += 1;
        Ok(())
    }

    /// A violation; returns its id.
    #[allow(clippy::too_many_arguments)]
    fn violation(
        &mut self,
        vehicle: i64,
        at: Timestamp,
        kind: usize,
        recorded_by: &str,
        province: char,
        online: bool,
        district: &str,
    ) -> Result<String, DemoError> {
        let (desc, penalty, fine, points) = KINDS[kind];
        self.next_violation += 1;
        let id = format!("5001{:012}", self.next_violation);
        let road = *self.rng.pick(ROADS);
        let (place, authority, address) = if province == '渝' {
            (
                format!("重庆市{district}{road}"),
                format!("重庆市公安局交通管理局{district}支队"),
                format!("重庆市{district}交巡警支队违法处理窗口"),
            )
        } else {
            let (prov, city) = match province {
                '川' => ("四川省", "成都市"),
                '贵' => ("贵州省", "贵阳市"),
                '湘' => ("湖南省", "长沙市"),
                '藏' => ("西藏自治区", "拉萨市"),
                _ => ("", ""),
            };
            (
                format!("{prov}{city}某道路"),
                format!("{city}公安局交通警察支队"),
                format!("{prov}{city}公安局交通警察支队违法处理大厅"),
            )
        };
        self.tx
            .exec("INSERT INTO violations (id, vehicle_id, occurred_at, place, description, province, province_online, recorded_by, penalty, fine_fen, points, authority, authority_address, state)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 'pending')", &sql_params![id, vehicle, secs(at), place, desc, province.to_string(), online, recorded_by, penalty, fine * 100, points, authority, address])?;
        self.sum.violations += 1;
        Ok(id)
    }

    /// A decision made elsewhere (a counter or an officer): confirmed, optionally paid.
    fn decision_elsewhere(
        &mut self,
        violation: &str,
        person: i64,
        decided: Timestamp,
        paid: bool,
    ) -> Result<(), DemoError> {
        let r = self.tx.query_one(
            "SELECT fine_fen, points FROM violations WHERE id = ?1",
            &sql_params![violation],
        )?;
        let (fine, points): (i64, u32) = (r.get(0)?, r.get(1)?);
        self.next_decision += 1;
        let id = self.next_decision;
        let number = format!("5001{}{id:08}", day(decided).strftime("%Y%m%d"));
        let deadline = decided + SignedDuration::from_hours(24 * 15);
        let state = if paid { "paid" } else { "handled_unpaid" };
        self.tx
            .exec("INSERT INTO decisions (id, number, violation_id, person_id, channel, decided_at, payment_deadline, state, fine_fen, points, confirmed_at)
                             VALUES (?1, ?2, ?3, ?4, 'elsewhere', ?5, ?6, ?7, ?8, ?9, ?5)", &sql_params![id, number, violation, person, secs(decided), secs(deadline), state, fine, points])?;
        self.tx.exec(
            "UPDATE violations SET state = ?1, decision_id = ?2 WHERE id = ?3",
            &sql_params![if paid { "paid" } else { "handled" }, id, violation],
        )?;
        if paid {
            let at = decided + SignedDuration::from_hours(24 * 3);
            self.tx
                .exec("INSERT INTO payments (decision_id, idempotency_key, method, transaction_no, fine_fen, surcharge_fen, fee_fen, total_fen, paid_at)
                                 VALUES (?1, ?2, 'bank_counter', ?3, ?4, 0, 0, ?4, ?5)", &sql_params![id, format!("elsewhere-{id}"), format!("BANK{id:012}"), fine, secs(at)])?;
        }
        self.sum.decisions_elsewhere += 1;
        Ok(())
    }

    fn fixed_persons(&mut self) -> Result<Vec<i64>, DemoError> {
        let mut ids = Vec::new();
        for (i, p) in DEMO_PERSONS.iter().enumerate() {
            let idn = IdNumber::parse(p.id_number)
                .map_err(|e| StoreError::Corrupt(format!("demo person: {e}")))?;
            let district = DISTRICTS
                .iter()
                .find(|(c, _)| *c == idn.division_code())
                .map(|d| d.1)
                .unwrap_or("渝中区");
            ids.push(self.person(
                p.id_number,
                p.name,
                &format!("1390000{:04}", i + 1),
                district,
            )?);
        }
        let [lxh, wjg, zw, lf, cj, yl, zm, hy, zq, wl, xg, st, mc] = ids[..] else {
            unreachable!("13 demo persons")
        };
        let a = |b: &mut Builder<'_>, d: i64| b.days_ago(d);
        // Licences.
        for (p, birth, pts, status, full12) in [
            (lxh, Date::constant(1985, 11, 20), 0, "A", 0),
            (wjg, Date::constant(1990, 3, 7), 10, "A", 0),
            (zw, Date::constant(1978, 5, 12), 4, "D", 0),
            (lf, Date::constant(1982, 9, 15), 0, "A", 0),
            (cj, Date::constant(1975, 1, 1), 2, "A", 0),
            (yl, Date::constant(1988, 6, 30), 0, "A", 0),
            (zm, Date::constant(1993, 2, 14), 0, "A", 0),
            (hy, Date::constant(1986, 8, 8), 3, "A", 0),
            (zq, Date::constant(1970, 7, 20), 1, "A", 0),
            (xg, Date::constant(1983, 4, 3), 0, "A", 3),
            (st, Date::constant(1991, 9, 9), 0, "A", 0),
            (mc, Date::constant(1989, 2, 18), 0, "A", 0),
        ] {
            self.licence(p, birth, "C1", pts, status, full12)?;
        }
        let _ = wl; // 吴丽 has no licence.
        // 李小红: two payable camera violations.
        let v_lxh = self.vehicle("渝A8K2L6", "02", "A", "A", Some(lxh), None)?;
        let t = a(self, 40);
        self.violation(v_lxh, t, 2, "camera", '渝', true, "沙坪坝区")?;
        let t = a(self, 12);
        self.violation(v_lxh, t, 0, "camera", '渝', true, "渝中区")?;
        // 王建国 at 10 points; his car has 3 filed drivers.
        let v_wjg = self.vehicle("渝A3M7P9", "02", "A", "A", Some(wjg), None)?;
        let t = a(self, 20);
        self.violation(v_wjg, t, 2, "camera", '渝', true, "渝中区")?;
        let t = a(self, 9);
        self.violation(v_wjg, t, 5, "camera", '渝', true, "江北区")?;
        // 张伟: suspended licence.
        let v_zw = self.vehicle("渝A5N4Q1", "02", "A", "A", Some(zw), None)?;
        let t = a(self, 15);
        self.violation(v_zw, t, 1, "camera", '渝', true, "江北区")?;
        // 刘芳: a car others can file.
        let v_lf = self.vehicle("渝A6R2T8", "02", "A", "A", Some(lf), None)?;
        let t = a(self, 6);
        self.violation(v_lf, t, 0, "camera", '渝', true, "九龙坡区")?;
        // 陈静 manages a unit; its car is filed to her.
        let unit = self.unit("重庆山城物流有限公司", "91500000DEMO00001X", "13900000005")?;
        let v_unit = self.vehicle("渝A7U5W3", "02", "A", "A", None, Some(unit))?;
        let t = a(self, 200);
        self.filing(cj, v_unit, "unit_manager_sms", "approved", t)?;
        let t = a(self, 30);
        self.violation(v_unit, t, 2, "camera", '渝', true, "南岸区")?;
        // 杨磊 rents a car; 孙婷 is the temporary driver on it.
        let rent_co = self.unit(
            "重庆畅行汽车租赁有限公司",
            "91500000DEMO00002X",
            "13900000099",
        )?;
        let v_rent = self.vehicle("渝A2Z8X4", "02", "G", "A", None, Some(rent_co))?;
        let (s, e) = (a(self, 10), a(self, -20));
        self.rental(v_rent, yl, "renter", s, e)?;
        self.rental(v_rent, st, "temp_driver", s, e)?;
        let t = a(self, 4);
        self.violation(v_rent, t, 1, "camera", '渝', true, "渝北区")?;
        let t = a(self, 25);
        self.violation(v_rent, t, 2, "camera", '渝', true, "渝北区")?;
        // 赵敏 files three cars (the per-user limit); 王建国's car reaches the per-vehicle limit.
        let t = a(self, 30);
        self.filing(zm, v_lxh, "owner_qr", "approved", t)?;
        self.filing(zm, v_wjg, "owner_sms", "approved", t)?;
        self.filing(zm, v_lf, "owner_qr", "approved", t)?;
        self.filing(st, v_wjg, "owner_qr", "approved", t)?;
        self.filing(yl, v_wjg, "owner_sms", "approved", t)?;
        // 黄勇: a decision made elsewhere, unpaid 30 days (surcharge), and one paid.
        let v_hy = self.vehicle("渝A4C6E2", "02", "A", "A", Some(hy), None)?;
        let t = a(self, 45);
        let o1 = self.violation(v_hy, t, 2, "camera", '渝', true, "大渡口区")?;
        let d = a(self, 30);
        self.decision_elsewhere(&o1, hy, d, false)?;
        let t = a(self, 80);
        let o2 = self.violation(v_hy, t, 5, "camera", '渝', true, "大渡口区")?;
        let d = a(self, 70);
        self.decision_elsewhere(&o2, hy, d, true)?;
        let t = a(self, 3);
        self.violation(v_hy, t, 0, "camera", '渝', true, "大渡口区")?;
        // 周强: out-of-province (online and not), officer-recorded, over the limits.
        let v_zq = self.vehicle("渝A9H3J5", "02", "A", "A", Some(zq), None)?;
        let t = a(self, 50);
        self.violation(v_zq, t, 2, "camera", '川', true, "")?;
        let t = a(self, 33);
        self.violation(v_zq, t, 1, "officer", '渝', true, "合川区")?;
        let t = a(self, 28);
        self.violation(v_zq, t, 6, "camera", '渝', true, "渝北区")?;
        let t = a(self, 60);
        self.violation(v_zq, t, 5, "camera", '藏', false, "")?;
        let t = a(self, 8);
        self.violation(v_zq, t, 7, "officer", '渝', true, "渝中区")?;
        // 吴丽: no licence, owns a car.
        let v_wl = self.vehicle("渝A1B2C3", "02", "A", "A", Some(wl), None)?;
        let t = a(self, 14);
        self.violation(v_wl, t, 0, "camera", '渝', true, "北碚区")?;
        let t = a(self, 11);
        self.violation(v_wl, t, 1, "camera", '渝', true, "北碚区")?;
        // 吴丽 asked to file 周强's car: pending review.
        let t = a(self, 1);
        self.filing(wl, v_zq, "owner_sms", "pending_review", t)?;
        // 徐刚: three times 12 points.
        let v_xg = self.vehicle("渝A3D5F7", "02", "A", "A", Some(xg), None)?;
        let t = a(self, 18);
        self.violation(v_xg, t, 5, "camera", '渝', true, "合川区")?;
        // 马超: a scrapped car, a taxi, a large truck.
        let v1 = self.vehicle("渝A6G8H2", "02", "A", "P", Some(mc), None)?;
        let v2 = self.vehicle("渝A7T3X9", "02", "D", "A", Some(mc), None)?;
        let v3 = self.vehicle("渝A8F1K4", "01", "F", "A", Some(mc), None)?;
        for v in [v1, v2, v3] {
            let t = a(self, 22);
            self.violation(v, t, 0, "camera", '渝', true, "涪陵区")?;
        }
        Ok(ids)
    }

    fn generated(&mut self, count: u64) -> Result<(), DemoError> {
        let today = day(self.anchor);
        let mut last_vehicles: Vec<i64> = Vec::new();
        let mut units_made = 0u64;
        for i in 0..count {
            let r = &mut self.rng;
            let (div, district) = DISTRICTS[(i % DISTRICTS.len() as u64) as usize];
            let block = i / DISTRICTS.len() as u64;
            let day_index = (block * 7919) % 18_000;
            let birth = Date::constant(1950, 1, 1)
                .checked_add(jiff::Span::new().days(day_index as i64))
                .unwrap_or(Date::constant(1970, 1, 1));
            let seq = 100 + (block / 18_000) as u16 * 3 + (i % 3) as u16;
            let idn = IdNumber::synthesize(div, birth, seq)
                .map_err(|e| StoreError::Corrupt(format!("synthetic id: {e}")))?;
            let name = if r.chance(60) {
                format!("{}{}{}", r.pick(SURNAMES), r.pick(GIVEN), r.pick(GIVEN))
            } else {
                format!("{}{}", r.pick(SURNAMES), r.pick(GIVEN))
            };
            let phone = format!("1{}{:09}", [5, 7, 8][(i % 3) as usize], i);
            let pid = self.person(idn.expose(), &name, &phone, district)?;
            let r = &mut self.rng;
            let has_licence = r.chance(88);
            if has_licence {
                let (points, status, full12) = match r.below(100) {
                    0..=69 => (0, "A", 0),
                    70..=89 => (1 + r.below(6) as u32, "A", 0),
                    90..=95 => (
                        7 + r.below(5) as u32,
                        if r.chance(30) { "H" } else { "A" },
                        0,
                    ),
                    96 => (12, "B", 1),
                    97 => (0, *r.pick(&["S", "M", "D", "HS"]), 0),
                    98 => (3, "A", 3),
                    _ => (0, "H", 0),
                };
                let class = if r.chance(90) { "C1" } else { "C2" };
                self.licence(pid, birth, class, points, status, full12)?;
            }
            let r = &mut self.rng;
            let n_vehicles = match r.below(100) {
                0..=44 => 0,
                45..=89 => 1,
                _ => 2,
            };
            for _ in 0..n_vehicles {
                let r = &mut self.rng;
                let (ptype, ne) = match r.below(100) {
                    0..=84 => ("02", false),
                    85..=92 => ("52", true),
                    93..=96 => ("01", false),
                    _ => ("07", false),
                };
                let use_ = match r.below(100) {
                    0..=92 => "A",
                    93..=95 => "D",
                    96..=97 => "F",
                    _ => "G",
                };
                let status = match r.below(100) {
                    0..=95 => "A",
                    96..=97 => "G",
                    98 => *r.pick(&["B", "C", "E", "P"]),
                    _ => "Q",
                };
                let plate = self.generated_plate(ne);
                let vid = self.vehicle(&plate, ptype, use_, status, Some(pid), None)?;
                last_vehicles.push(vid);
                if last_vehicles.len() > 500 {
                    last_vehicles.remove(0);
                }
                self.generated_violations(vid, pid, district, today)?;
            }
            // Filing someone else's car (limits respected).
            let r = &mut self.rng;
            if has_licence && r.chance(4) && !last_vehicles.is_empty() {
                let pick = last_vehicles[r.below(last_vehicles.len() as u64) as usize];
                let owner: Option<i64> = self.tx.one(
                    "SELECT owner_person_id FROM vehicles WHERE id = ?1",
                    &sql_params![pick],
                )?;
                if owner != Some(pid)
                    && self.filings_per_vehicle.get(&pick).copied().unwrap_or(0) < 3
                {
                    let back = 30 + self.rng.below(300) as i64;
                    let t = self.days_ago(back);
                    let state = if self.rng.chance(90) {
                        "approved"
                    } else {
                        "pending_review"
                    };
                    let method = if self.rng.chance(50) {
                        "owner_qr"
                    } else {
                        "owner_sms"
                    };
                    self.filing(pid, pick, method, state, t)?;
                }
            }
            // Every 2000 persons: a unit with cars, managed (and filed) by this person; every
            // 5000: a rental company with a contract for this person.
            if i % 2000 == 1999 && has_licence {
                units_made += 1;
                let unit = self.unit(
                    &format!("重庆演示企业{units_made}有限公司"),
                    &format!("91500000DM{units_made:07}X"),
                    &phone,
                )?;
                for _ in 0..(1 + self.rng.below(3)) {
                    let plate = self.generated_plate(false);
                    let vid = self.vehicle(&plate, "02", "A", "A", None, Some(unit))?;
                    self.generated_violations(vid, pid, district, today)?;
                }
                let first: i64 = self.tx.one(
                    "SELECT min(id) FROM vehicles WHERE owner_unit_id = ?1",
                    &sql_params![unit],
                )?;
                let t = self.days_ago(100);
                self.filing(pid, first, "unit_manager_sms", "approved", t)?;
            }
            if i % 5000 == 4999 && has_licence {
                units_made += 1;
                let unit = self.unit(
                    &format!("重庆演示租车{units_made}有限公司"),
                    &format!("91500000DM{units_made:07}X"),
                    &format!("13800{units_made:06}"),
                )?;
                let plate = self.generated_plate(false);
                let vid = self.vehicle(&plate, "02", "G", "A", None, Some(unit))?;
                let (s, e) = (self.days_ago(20), self.days_ago(-10));
                self.rental(vid, pid, "renter", s, e)?;
                self.generated_violations(vid, pid, district, today)?;
            }
        }
        Ok(())
    }

    fn generated_violations(
        &mut self,
        vid: i64,
        owner: i64,
        district: &str,
        _today: Date,
    ) -> Result<(), DemoError> {
        let n = match self.rng.below(100) {
            0..=59 => 0,
            60..=84 => 1,
            85..=94 => 2,
            _ => 3,
        };
        for _ in 0..n {
            let r = &mut self.rng;
            let kind = match r.below(100) {
                0..=29 => 0,
                30..=49 => 1,
                50..=69 => 2,
                70..=79 => 3,
                80..=89 => 4,
                90..=96 => 5,
                97..=98 => 6,
                _ => 7,
            };
            let recorded = if r.chance(88) { "camera" } else { "officer" };
            let (prov, online) = match r.below(100) {
                0..=89 => ('渝', true),
                90..=97 => (*r.pick(&['川', '贵', '湘']), true),
                _ => ('藏', false),
            };
            let ago = 1 + r.below(300) as i64;
            let elsewhere = r.chance(8);
            let paid = r.chance(50);
            let t = self.days_ago(ago);
            let v = self.violation(vid, t, kind, recorded, prov, online, district)?;
            if elsewhere && ago > 2 {
                let d = self.days_ago(ago.min(60) - 1);
                self.decision_elsewhere(&v, owner, d, paid)?;
            }
        }
        Ok(())
    }
}

/// Build a demo city into an empty SQLite database (one transaction; nothing is written on
/// failure). On any backend: [`StorePlatform::build_demo_city`](super::StorePlatform::build_demo_city).
pub fn build_city(conn: &mut Connection, opts: &DemoOptions) -> Result<CitySummary, DemoError> {
    opts.check()?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    // Outside a platform: anchored with the demo key (a demo database).
    let before = audit::last_seq(&tx)?;
    let summary = build_city_in(&tx, opts)?;
    audit::anchor_after(&tx, &audit::AuditKey::demo(), before)?;
    tx.commit()?;
    Ok(summary)
}

/// Build a demo city inside the caller's transaction (the database must hold no person).
pub fn build_city_in(tx: &dyn Sql, opts: &DemoOptions) -> Result<CitySummary, DemoError> {
    opts.check()?;
    let n: i64 = tx.one("SELECT count(*) FROM persons", &[])?;
    if n > 0 {
        return Err(DemoError::NotEmpty);
    }
    let summary = {
        let mut b = Builder {
            tx,
            rng: Rng::new(opts.seed),
            anchor: opts.anchor,
            sum: CitySummary::default(),
            next_violation: 0,
            next_decision: 0,
            next_plate: 0,
            filings_per_vehicle: HashMap::new(),
        };
        b.fixed_persons()?;
        let rest = opts.persons.saturating_sub(DEMO_PERSONS.len() as u64);
        b.generated(rest)?;
        b.sum
    };
    // The city's decisions and payments are history from before the platform (other channels):
    // the entry names them, so `db check` finds every one audited and a row added later is not.
    let decisions: Vec<i64> = tx.column("SELECT id FROM decisions ORDER BY id", &[])?;
    let payments: Vec<i64> = tx.column("SELECT id FROM payments ORDER BY id", &[])?;
    audit::append(
        tx,
        secs(opts.anchor),
        "demo_city_built",
        "database",
        &serde_json::json!({"seed": opts.seed, "summary": summary, "imported": {
            "decisions": audit::id_ranges(&decisions),
            "payments": audit::id_ranges(&payments),
        }}),
    )?;
    tx.exec(
        "INSERT INTO meta (key, value) VALUES ('demo', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &sql_params![serde_json::json!({"seed": opts.seed, "persons": opts.persons, "anchor": opts.anchor.to_string()}).to_string()],
    )?;
    Ok(summary)
}

/// Add `n` pending zero-point camera violations (parking, 150元) to the first vehicle demo person
/// `id_number` owns, dated over the days before `anchor` (the UI benchmark's long list). One
/// transaction, audited; returns the new violations' ids.
pub fn add_demo_violations(
    conn: &mut Connection,
    id_number: &str,
    n: usize,
    anchor: Timestamp,
) -> Result<Vec<String>, DemoError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let vehicle: i64 = tx.query_row(
        "SELECT v.id FROM vehicles v JOIN persons p ON p.id = v.owner_person_id
         WHERE p.id_number = ?1 ORDER BY v.id LIMIT 1",
        [id_number],
        |r| r.get(0),
    )?;
    let last: i64 = tx.query_row(
        "SELECT coalesce(max(CAST(substr(id, 5) AS BIGINT)), 0) FROM violations WHERE id LIKE '5001%'",
        [],
        |r| r.get(0),
    )?;
    let (desc, penalty, fine, points) = KINDS[0];
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let id = format!("5001{:012}", last + 1 + i as i64);
        let at = anchor - SignedDuration::from_hours(24 * (1 + (i as i64 % 300)));
        let road = ROADS[i % ROADS.len()];
        tx.exec("INSERT INTO violations (id, vehicle_id, occurred_at, place, description, province, province_online, recorded_by, penalty, fine_fen, points, authority, authority_address, state)
                           VALUES (?1, ?2, ?3, ?4, ?5, '渝', 1, 'camera', ?6, ?7, ?8, '重庆市公安局交通管理局渝中区支队', '重庆市渝中区交巡警支队违法处理窗口', 'pending')", &sql_params![id, vehicle, secs(at), format!("重庆市渝中区{road}"), desc, penalty, fine * 100, points])?;
        ids.push(id);
    }
    let seq = audit::append(
        &tx,
        secs(anchor),
        "demo_violations_added",
        "database",
        &serde_json::json!({"vehicle": vehicle, "count": n}),
    )?;
    audit::anchor_after(&tx, &audit::AuditKey::demo(), seq - 1)?;
    tx.commit()?;
    Ok(ids)
}

/// The demo's "today": the start of the current day in UTC+8, read from the real clock.
pub fn today_anchor() -> Timestamp {
    let now = Timestamp::now();
    let d = day(now).to_datetime(jiff::civil::Time::constant(9, 0, 0, 0));
    maintenance::china_offset().to_timestamp(d).unwrap_or(now)
}

/// The number of persons in a demo database the kiosk creates on its first start (as in the
/// embedded `kiosk.toml`).
pub const DEFAULT_DEMO_PERSONS: u64 = 200;
/// The largest demo city (`db init --persons`, `[database] demo_persons`): twice the million the
/// store benchmark uses, about 2 GB of disk; a larger number is refused before anything is written.
pub const MAX_DEMO_PERSONS: u64 = 2_000_000;
pub const DEFAULT_DEMO_SEED: u64 = 2022;

/// Open the database at `path`, building the demo city into it first if it has no persons yet.
/// Called by the kiosk on its first start in demo mode. Returns whether it built the city.
pub fn ensure_demo_database(path: &Path) -> Result<bool, DemoError> {
    ensure_demo_database_with(path, DEFAULT_DEMO_PERSONS, DEFAULT_DEMO_SEED)
}

/// [`ensure_demo_database`] with the size and seed of `[database]` in `kiosk.toml`.
pub fn ensure_demo_database_with(path: &Path, persons: u64, seed: u64) -> Result<bool, DemoError> {
    let mut conn = schema::open(path)?;
    let n: i64 = conn.query_row("SELECT count(*) FROM persons", [], |r| r.get(0))?;
    if n > 0 {
        return Ok(false);
    }
    build_city(
        &mut conn,
        &DemoOptions {
            persons,
            seed,
            anchor: today_anchor(),
        },
    )?;
    Ok(true)
}

/// Make sure the practice person and vehicle exist with at least `violations` zero-point camera
/// fines pending (used by the crash-safety worker). Idempotent; one transaction.
pub fn ensure_practice_fixture(
    conn: &mut Connection,
    violations: u32,
    anchor: Timestamp,
) -> Result<(), DemoError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    // Outside a platform: anchored with the demo key (a demo database).
    let before = audit::last_seq(&tx)?;
    ensure_practice_fixture_in(&tx, violations, anchor)?;
    audit::anchor_after(&tx, &audit::AuditKey::demo(), before)?;
    tx.commit()?;
    Ok(())
}

/// [`ensure_practice_fixture`] inside the caller's transaction, on either backend.
pub fn ensure_practice_fixture_in(
    tx: &dyn Sql,
    violations: u32,
    anchor: Timestamp,
) -> Result<(), DemoError> {
    let pid: i64 = match tx.opt(
        "SELECT id FROM persons WHERE id_number = ?1",
        &sql_params![PRACTICE_PERSON],
    )? {
        Some(id) => id,
        None => {
            let id: i64 = tx.one(
                "INSERT INTO persons (id_number, name, phone, address) VALUES (?1, '练习用户', '13900009999', '重庆市万州区') RETURNING id",
                &sql_params![PRACTICE_PERSON],
            )?;
            tx.exec(
                "INSERT INTO licences (person_id, licence_class, first_issued, cycle_start, cycle_points, status) VALUES (?1, 'C1', '2020-01-01', '2020-01-01', 0, 'A')",
                &sql_params![id],
            )?;
            tx.exec(
                "INSERT INTO vehicles (plate, plate_type, use_code, status, owner_person_id) VALUES (?1, '02', 'A', 'A', ?2)",
                &sql_params![PRACTICE_PLATE, id],
            )?;
            id
        }
    };
    let vid: i64 = tx.one(
        "SELECT id FROM vehicles WHERE owner_person_id = ?1",
        &sql_params![pid],
    )?;
    let have: i64 = tx.one(
        "SELECT count(*) FROM violations WHERE vehicle_id = ?1",
        &sql_params![vid],
    )?;
    for k in have..i64::from(violations) {
        tx.exec(
            "INSERT INTO violations (id, vehicle_id, occurred_at, place, description, province, province_online, recorded_by, penalty, fine_fen, points, authority, authority_address, state)
             VALUES (?1, ?2, ?3, '重庆市万州区练习路', '机动车违反规定停放、临时停车', '渝', 1, 'camera', 'fine', 15000, 0, '重庆市公安局交通管理局万州区支队', '重庆市万州区交巡警支队', 'pending')",
            &sql_params![format!("P{k:011}"), vid, secs(anchor - SignedDuration::from_hours(24))],
        )?;
    }
    audit::append(
        tx,
        secs(anchor),
        "practice_fixture",
        "database",
        &serde_json::json!({"violations": violations}),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn anchor() -> Timestamp {
        "2022-10-24T09:00:00+08:00".parse().unwrap()
    }

    #[test]
    fn demo_persons_have_valid_distinct_ids_and_descriptions() {
        let mut seen = std::collections::BTreeSet::new();
        for p in DEMO_PERSONS {
            IdNumber::parse(p.id_number).unwrap_or_else(|e| panic!("{}: {e}", p.name));
            assert!(p.id_number.starts_with("50"), "Chongqing");
            assert!(seen.insert(p.id_number));
            assert!(!p.description.is_empty());
        }
        assert_eq!(DEMO_PERSONS[0].id_number, "50010619851120002X");
        assert_eq!(DEMO_PERSONS[0].name, "李小红");
        IdNumber::parse(PRACTICE_PERSON).unwrap();
    }

    #[test]
    fn the_kiosk_builds_its_demo_database_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("first-start.sqlite3");
        assert!(ensure_demo_database_with(&path, 50, 1).unwrap());
        assert!(
            !ensure_demo_database_with(&path, 50, 1).unwrap(),
            "second start"
        );
        let c = schema::open(&path).unwrap();
        let n: i64 = c
            .query_row("SELECT count(*) FROM persons", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 50);
    }

    #[test]
    fn the_practice_fixture_is_idempotent() {
        let mut c = schema::open_in_memory().unwrap();
        ensure_practice_fixture(&mut c, 10, anchor()).unwrap();
        ensure_practice_fixture(&mut c, 12, anchor()).unwrap();
        let n: i64 = c
            .query_row("SELECT count(*) FROM violations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 12);
    }

    #[test]
    fn the_city_is_deterministic_in_its_seed() {
        let build = |seed| {
            let mut c = schema::open_in_memory().unwrap();
            build_city(
                &mut c,
                &DemoOptions {
                    persons: 600,
                    seed,
                    anchor: anchor(),
                },
            )
            .unwrap();
            let dump: Vec<String> = c
                .prepare("SELECT id_number || name || phone FROM persons ORDER BY id")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let v: Vec<String> = c
                .prepare(
                    "SELECT plate || plate_type || use_code || status FROM vehicles ORDER BY id",
                )
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            (dump, v)
        };
        assert_eq!(build(7), build(7));
        assert_ne!(build(7), build(8));
    }

    #[test]
    fn every_generated_id_and_plate_is_valid_and_unique() {
        let mut c = schema::open_in_memory().unwrap();
        let s = build_city(
            &mut c,
            &DemoOptions {
                persons: 3000,
                seed: 1,
                anchor: anchor(),
            },
        )
        .unwrap();
        assert_eq!(s.persons, 3000);
        let mut stmt0 = c.prepare("SELECT id_number FROM persons").unwrap();
        for id in stmt0.query_map([], |r| r.get::<_, String>(0)).unwrap() {
            let id = id.unwrap();
            IdNumber::parse(&id).unwrap_or_else(|e| panic!("{id}: {e}"));
        }
        let mut stmt = c.prepare("SELECT plate FROM vehicles").unwrap();
        for p in stmt.query_map([], |r| r.get::<_, String>(0)).unwrap() {
            let p = p.unwrap();
            crate::domain::Plate::parse(&p).unwrap_or_else(|e| panic!("{p}: {e}"));
        }
        assert!(
            s.units >= 1 && s.rentals >= 2 && s.filings > 10 && s.decisions_elsewhere > 5,
            "{s:?}"
        );
        drop(stmt);
        drop(stmt0);
        // A second build into the same database is refused.
        assert!(matches!(
            build_city(
                &mut c,
                &DemoOptions {
                    persons: 10,
                    seed: 1,
                    anchor: anchor()
                }
            ),
            Err(DemoError::NotEmpty)
        ));
    }

    #[test]
    fn a_city_larger_than_the_maximum_is_refused_before_anything_is_written() {
        let mut c = schema::open_in_memory().unwrap();
        for persons in [MAX_DEMO_PERSONS + 1, u64::MAX] {
            let e = build_city(
                &mut c,
                &DemoOptions {
                    persons,
                    seed: 1,
                    anchor: "2022-10-24T09:00:00+08:00".parse().unwrap(),
                },
            )
            .unwrap_err();
            assert!(matches!(e, DemoError::TooManyPersons { .. }), "{e}");
            assert!(e.to_string().contains("2000000"), "{e}");
        }
        let n: i64 = c
            .query_row("SELECT count(*) FROM persons", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
    }
}
