// tsyringe needs the Reflect metadata polyfill loaded once before any container is used.
import "reflect-metadata";
import { afterEach } from "vitest";
import { failOnLeaks } from "./packages/core/src/index.js";

// Every test shuts down the kernels it booted and fails if anything is still alive afterwards
// (a dma-buf never put, an attachment never detached, a fence never released, an fd never closed
// by a kernel path). Tests that leak on purpose turn it off for themselves with `leaksExpected()`.
failOnLeaks(afterEach);
