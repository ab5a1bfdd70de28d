"""An invoice as a PDF (ReportLab): the same facts as its HTML page, for the buyer's records."""

import io
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from billing.countries import COUNTRIES
from billing.pricing import format_money


def _lines(text: str) -> str:
    return "<br/>".join(escape(line) for line in text.splitlines())


def invoice_pdf(invoice) -> bytes:
    """The PDF bytes of ``invoice``."""
    styles = getSampleStyleSheet()
    out = io.BytesIO()
    document = SimpleDocTemplate(
        out,
        pagesize=A4,
        title=f"{invoice.get_kind_display()} {invoice.display_number}",
        leftMargin=20 * mm,
        rightMargin=20 * mm,
    )
    money = lambda minor: format_money(minor, invoice.currency)  # noqa: E731
    buyer = [invoice.buyer_name, invoice.buyer_address, COUNTRIES.get(invoice.buyer_country, "")]
    if invoice.buyer_vat_number:
        buyer.append(f"VAT number: {invoice.buyer_vat_number}")
    parties = Table(
        [
            [Paragraph("<b>From</b>", styles["Normal"]), Paragraph("<b>To</b>", styles["Normal"])],
            [
                Paragraph(_lines(invoice.seller), styles["Normal"]),
                Paragraph(_lines("\n".join(line for line in buyer if line)), styles["Normal"]),
            ],
        ],
        colWidths=[85 * mm, 85 * mm],
    )
    if invoice.reverse_charge:
        vat_label = "VAT: reverse charge"
    elif invoice.vat_country:
        vat_label = f"VAT {invoice.vat_rate}% ({COUNTRIES.get(invoice.vat_country, '')})"
    else:
        vat_label = "VAT: not charged"
    amounts = Table(
        [
            ["Description", "Amount"],
            [Paragraph(escape(invoice.description), styles["Normal"]), money(invoice.net_minor)],
            ["Net", money(invoice.net_minor)],
            [vat_label, money(invoice.vat_minor)],
            [f"Total ({invoice.currency})", money(invoice.gross_minor)],
        ],
        colWidths=[120 * mm, 50 * mm],
    )
    amounts.setStyle(
        TableStyle(
            [
                ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black),
                ("LINEABOVE", (0, -1), (-1, -1), 0.5, colors.black),
                ("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold"),
                ("ALIGN", (1, 0), (1, -1), "RIGHT"),
            ]
        )
    )
    story = [
        Paragraph(f"{invoice.get_kind_display()} {invoice.display_number}", styles["Title"]),
        Paragraph(f"Date: {invoice.issued_on:%d %B %Y}", styles["Normal"]),
        Paragraph(
            f"Period: {invoice.period_start:%d %B %Y} to {invoice.period_end:%d %B %Y}",
            styles["Normal"],
        ),
        Spacer(1, 8 * mm),
        parties,
        Spacer(1, 8 * mm),
        amounts,
        Spacer(1, 6 * mm),
        Paragraph(escape(invoice.vat_note), styles["Italic"]),
    ]
    if invoice.credits_id:
        story.append(
            Paragraph(f"Credits invoice {invoice.credits.display_number}.", styles["Normal"])
        )
    document.build(story)
    return out.getvalue()
