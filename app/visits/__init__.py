"""Charting: visits, SOAP notes, applied protocols, body chart, signing and amendments."""
