T = {
    "Cannot move %(code)s from %(current)s to %(target)s.": "%(code)s を %(current)s から %(target)s に移すことはできません。",
    "Invalid measurement of %(parameter)s.": "%(parameter)s の測定値が正しくありません。",
    "Parameter %(parameter)s is given more than once.": "パラメータ %(parameter)s が重複しています。",
    "The assays differ by %(difference)s, more than the splitting limit %(limit)s: an umpire assay is required.": "分析値の差 %(difference)s がスプリット許容差 %(limit)s を超えています。アンパイア分析が必要です。",
    "The certificate content cannot be encoded: %(reason)s.": "証明書の内容を符号化できません：%(reason)s。",
    "The grade specification is not consistent.": "グレードの仕様に矛盾があります。",
    "The lot evidence is not valid.": "ロットの証跡が正しくありません。",
    "The quality data is not valid.": "品質データが正しくありません。",
    "Unknown grade standard %(code)s.": "不明なグレード規格です：%(code)s。",
    "Unknown parameter %(code)s.": "不明なパラメータです：%(code)s。",
    "Version %(version)s of %(code)s is %(status)s and can no longer be changed.": "%(code)s の第%(version)s版は %(status)s のため、変更できません。",
}
T["A number is out of range."] = "数値が範囲外です。"
