"""Japan's 47 prefectures (JIS X 0401 codes) with their capitals' coordinates."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Prefecture:
    code: str
    name_en: str
    name_ja: str
    lat: float
    lon: float


PREFECTURES: tuple[Prefecture, ...] = tuple(
    Prefecture(f"{i + 1:02d}", en, ja, lat, lon)
    for i, (en, ja, lat, lon) in enumerate(
        [
            ("Hokkaido", "北海道", 43.0642, 141.3469),
            ("Aomori", "青森県", 40.8244, 140.7400),
            ("Iwate", "岩手県", 39.7036, 141.1527),
            ("Miyagi", "宮城県", 38.2688, 140.8721),
            ("Akita", "秋田県", 39.7186, 140.1024),
            ("Yamagata", "山形県", 38.2404, 140.3633),
            ("Fukushima", "福島県", 37.7503, 140.4676),
            ("Ibaraki", "茨城県", 36.3418, 140.4468),
            ("Tochigi", "栃木県", 36.5657, 139.8836),
            ("Gunma", "群馬県", 36.3907, 139.0604),
            ("Saitama", "埼玉県", 35.8569, 139.6489),
            ("Chiba", "千葉県", 35.6051, 140.1233),
            ("Tokyo", "東京都", 35.6895, 139.6917),
            ("Kanagawa", "神奈川県", 35.4478, 139.6425),
            ("Niigata", "新潟県", 37.9026, 139.0236),
            ("Toyama", "富山県", 36.6953, 137.2113),
            ("Ishikawa", "石川県", 36.5947, 136.6256),
            ("Fukui", "福井県", 36.0652, 136.2216),
            ("Yamanashi", "山梨県", 35.6642, 138.5684),
            ("Nagano", "長野県", 36.6513, 138.1810),
            ("Gifu", "岐阜県", 35.3912, 136.7223),
            ("Shizuoka", "静岡県", 34.9769, 138.3831),
            ("Aichi", "愛知県", 35.1802, 136.9066),
            ("Mie", "三重県", 34.7303, 136.5086),
            ("Shiga", "滋賀県", 35.0045, 135.8686),
            ("Kyoto", "京都府", 35.0214, 135.7556),
            ("Osaka", "大阪府", 34.6863, 135.5200),
            ("Hyogo", "兵庫県", 34.6913, 135.1830),
            ("Nara", "奈良県", 34.6851, 135.8329),
            ("Wakayama", "和歌山県", 34.2260, 135.1675),
            ("Tottori", "鳥取県", 35.5039, 134.2383),
            ("Shimane", "島根県", 35.4723, 133.0505),
            ("Okayama", "岡山県", 34.6618, 133.9344),
            ("Hiroshima", "広島県", 34.3966, 132.4596),
            ("Yamaguchi", "山口県", 34.1859, 131.4714),
            ("Tokushima", "徳島県", 34.0658, 134.5593),
            ("Kagawa", "香川県", 34.3401, 134.0434),
            ("Ehime", "愛媛県", 33.8417, 132.7661),
            ("Kochi", "高知県", 33.5597, 133.5311),
            ("Fukuoka", "福岡県", 33.6064, 130.4181),
            ("Saga", "佐賀県", 33.2494, 130.2988),
            ("Nagasaki", "長崎県", 32.7448, 129.8737),
            ("Kumamoto", "熊本県", 32.7898, 130.7417),
            ("Oita", "大分県", 33.2382, 131.6126),
            ("Miyazaki", "宮崎県", 31.9111, 131.4239),
            ("Kagoshima", "鹿児島県", 31.5602, 130.5581),
            ("Okinawa", "沖縄県", 26.2124, 127.6809),
        ]
    )
)

BY_CODE: dict[str, Prefecture] = {p.code: p for p in PREFECTURES}


@dataclass(frozen=True)
class Region:
    """One of Japan's eight traditional regions (地方区分), with its prefectures' JIS codes."""

    code: str
    name_en: str
    name_ja: str
    prefectures: tuple[str, ...]


def _codes(first: int, last: int) -> tuple[str, ...]:
    return tuple(f"{i:02d}" for i in range(first, last + 1))


REGIONS: tuple[Region, ...] = (
    Region("hokkaido", "Hokkaido", "北海道", _codes(1, 1)),
    Region("tohoku", "Tohoku", "東北", _codes(2, 7)),
    Region("kanto", "Kanto", "関東", _codes(8, 14)),
    Region("chubu", "Chubu", "中部", _codes(15, 23)),
    Region("kinki", "Kinki", "近畿", _codes(24, 30)),
    Region("chugoku", "Chugoku", "中国", _codes(31, 35)),
    Region("shikoku", "Shikoku", "四国", _codes(36, 39)),
    Region("kyushu", "Kyushu-Okinawa", "九州・沖縄", _codes(40, 47)),
)
REGION_BY_CODE: dict[str, Region] = {r.code: r for r in REGIONS}
REGION_OF: dict[str, str] = {p: r.code for r in REGIONS for p in r.prefectures}
"""The region code of each prefecture's JIS code."""
