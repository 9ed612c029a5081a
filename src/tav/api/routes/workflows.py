"""Workflows routes."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/workflows", tags=["workflows"])
