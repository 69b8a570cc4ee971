T = {
    "polymer declared": "樹脂の種類の申告",
    "source declared (PCR or PIR)": "由来の申告（PCR または PIR）",
    "form declared (flake, pellet, bale …)": "形状の申告（フレーク、ペレット、ベール等）",
    "colour declared": "色の申告",
    "declared composition": "組成の申告",
    "a lab assay": "分析機関による分析",
    "an accredited laboratory": "認定分析機関",
    "the test method": "試験方法の明記",
    "third-party inspection": "第三者検査",
    "radioactivity check": "放射線検査",
    "identification by IR or DSC": "IR または DSC による同定",
}
