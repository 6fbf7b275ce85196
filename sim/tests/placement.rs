//! Objects placed by the run's seed (`random = { x_m, y_m, yaw_rad }`) and printed tags:
//! the same seed puts an object in the same place, other seeds elsewhere within the
//! ranges; ranges and tags that make no sense are refused, naming the object.

use embody_sim::Environment;
use embody_sim::objects::{Object, ObjectShape, PrintedTag, RandomPlacement};

fn scene(random: RandomPlacement, tag: Option<PrintedTag>) -> Environment {
    Environment {
        objects: vec![Object {
            random: Some(random),
            tag,
            ..Object::new(
                "box",
                ObjectShape::Box { size: [0.05; 3] },
                [-0.45, 0.0, 0.225],
            )
        }],
        ..Environment::default()
    }
}

const RANGES: RandomPlacement = RandomPlacement {
    x_m: [-0.06, 0.06],
    y_m: [-0.1, 0.1],
    yaw_rad: [-0.5, 0.5],
};

#[test]
fn a_seed_places_an_object_the_same_way_every_time_and_within_its_ranges() {
    let environment = scene(RANGES, None);
    let at = |seed| {
        let o = &environment.placed(seed).objects[0];
        (o.position_m, o.rpy_rad)
    };
    assert_eq!(at(7), at(7));
    let mut places: Vec<_> = (0..200).map(at).collect();
    for (p, rpy) in &places {
        assert!((p[0] + 0.45).abs() <= 0.06 + 1e-12 && p[1].abs() <= 0.1 + 1e-12);
        assert_eq!(p[2], 0.225);
        assert!(rpy[2].abs() <= 0.5 + 1e-12 && rpy[0] == 0.0 && rpy[1] == 0.0);
    }
    // Spread over the ranges, not bunched.
    let xs: Vec<f64> = places.iter().map(|(p, _)| p[0]).collect();
    let span =
        xs.iter().copied().fold(f64::MIN, f64::max) - xs.iter().copied().fold(f64::MAX, f64::min);
    assert!(span > 0.1, "x spans {span} m of 0.12");
    places.dedup();
    assert_eq!(places.len(), 200, "every seed a place of its own");
    // Without `random`, the object stays where it is written.
    let fixed = Environment {
        objects: vec![Object::new(
            "box",
            ObjectShape::Box { size: [0.05; 3] },
            [-0.45, 0.0, 0.225],
        )],
        ..Environment::default()
    };
    assert_eq!(fixed.placed(3), fixed);
}

#[test]
fn nonsense_ranges_and_tags_are_refused_naming_the_object() {
    let why = |environment: Environment| {
        let (key, reason) = environment.check().expect_err("refused");
        format!("{key}: {reason}")
    };
    let backwards = RandomPlacement {
        y_m: [0.1, -0.1],
        ..RANGES
    };
    let text = why(scene(backwards, None));
    assert!(
        text.contains("box") && text.contains("random.y_m [0.1, -0.1]"),
        "{text}"
    );
    let too_big = Some(PrintedTag {
        id: 3,
        size_m: 0.045,
    });
    let text = why(scene(RANGES, too_big));
    assert!(
        text.contains("with its white ring") && text.contains("0.05 × 0.05"),
        "{text}"
    );
    let no_such = Some(PrintedTag {
        id: 587,
        size_m: 0.03,
    });
    assert!(why(scene(RANGES, no_such)).contains("tag id 587 is not in 36h11"));
    let on_a_ball = Environment {
        objects: vec![Object {
            tag: Some(PrintedTag {
                id: 1,
                size_m: 0.02,
            }),
            ..Object::new(
                "ball",
                ObjectShape::Sphere { radius: 0.05 },
                [0.0, 0.0, 0.05],
            )
        }],
        ..Environment::default()
    };
    assert!(why(on_a_ball).contains("no box"));
}

#[test]
fn a_seed_varies_the_light_within_its_ranges_and_leaves_the_objects_where_they_were() {
    use embody_sim::render::{Light, RandomLight};
    let plain = scene(RANGES, None);
    let lit = Environment {
        light: Light {
            random: Some(RandomLight {
                yaw_rad: Some([-1.0, 1.0]),
                ambient: Some([0.2, 0.6]),
            }),
            ..Light::default()
        },
        ..plain.clone()
    };
    assert!(lit.light.check().is_ok());
    let base = Light::default().direction;
    let mut ambients = Vec::new();
    for seed in 0..100 {
        let placed = lit.placed(seed);
        // The objects land where they do without the light's draw.
        assert_eq!(placed.objects, plain.placed(seed).objects);
        let light = placed.light;
        assert!((0.2..=0.6).contains(&light.ambient));
        // Turned about the vertical: same height, same horizontal length, within ±1 rad.
        let [x, y, z] = light.direction;
        assert_eq!(z, base[2]);
        assert!((x.hypot(y) - base[0].hypot(base[1])).abs() < 1e-12);
        let turn = (y.atan2(x) - base[1].atan2(base[0]) + std::f64::consts::PI)
            .rem_euclid(std::f64::consts::TAU)
            - std::f64::consts::PI;
        assert!(turn.abs() <= 1.0 + 1e-12, "turned {turn} rad");
        ambients.push(light.ambient);
    }
    ambients.dedup();
    assert_eq!(ambients.len(), 100, "every seed a light of its own");
    // A light without `random` is the same for every seed.
    assert_eq!(plain.placed(5).light, Light::default());
    // Nonsense is refused, naming the key.
    let bad = Light {
        ambient: 1.5,
        ..Light::default()
    };
    assert_eq!(bad.check().map_err(|(k, _)| k), Err("ambient".to_owned()));
    let backwards = Light {
        random: Some(RandomLight {
            yaw_rad: Some([0.5, -0.5]),
            ambient: None,
        }),
        ..Light::default()
    };
    assert_eq!(
        backwards.check().map_err(|(k, _)| k),
        Err("random.yaw_rad".to_owned())
    );
}
