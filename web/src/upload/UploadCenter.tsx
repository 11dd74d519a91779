// Upload anywhere: files dropped on any page of the console, or chosen with
// the picker, go into one queue shown in a panel with per-file and overall
// progress, cancel and retry.
import { createContext, lazy, Suspense, useCallback, useContext, useEffect, useMemo, useRef, useState, useSyncExternalStore, type ReactNode } from "react";
import { Group, Paper, Text } from "@mantine/core";
import { IconCloudUpload } from "@tabler/icons-react";
import { useQueryClient } from "@tanstack/react-query";
import { useTranslation } from "../i18n";
import { UploadQueue, type Target, type UploadTransport } from "./queue";
import { browserTransport } from "./transport";

const UploadPanel = lazy(() => import("./UploadPanel"));

interface UploadApi {
  queue: UploadQueue;
  pick(target?: Target): void;
  add(files: File[], target?: Target): void;
}

const Ctx = createContext<UploadApi | null>(null);

export function useUploads() {
  const v = useContext(Ctx);
  if (!v) throw new Error("useUploads outside UploadCenter");
  return v;
}

export function UploadCenter({ children, enabled, transport = browserTransport }: { children: ReactNode; enabled: boolean; transport?: UploadTransport }) {
  const qc = useQueryClient();
  const queue = useMemo(
    () =>
      new UploadQueue(transport, {
        onDone: () => {
          void qc.invalidateQueries({ queryKey: ["documents"] });
          void qc.invalidateQueries({ queryKey: ["document"] });
        },
      }),
    [qc, transport],
  );
  const input = useRef<HTMLInputElement>(null);
  const pickTarget = useRef<Target>({ kind: "new" });
  const [dragging, setDragging] = useState(false);
  const { t } = useTranslation();

  const add = useCallback((files: File[], target: Target = { kind: "new" }) => {
    if (files.length) queue.add(files, target);
  }, [queue]);

  const pick = useCallback((target: Target = { kind: "new" }) => {
    pickTarget.current = target;
    if (input.current) {
      input.current.multiple = target.kind === "new";
      input.current.value = "";
      input.current.click();
    }
  }, []);

  useEffect(() => {
    if (!enabled) return;
    let depth = 0;
    const hasFiles = (e: DragEvent) => Array.from(e.dataTransfer?.types ?? []).includes("Files");
    const enter = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth++;
      setDragging(true);
    };
    const over = (e: DragEvent) => {
      if (hasFiles(e)) e.preventDefault();
    };
    const leave = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      depth = Math.max(0, depth - 1);
      if (depth === 0) setDragging(false);
    };
    const drop = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth = 0;
      setDragging(false);
      add(Array.from(e.dataTransfer?.files ?? []));
    };
    window.addEventListener("dragenter", enter);
    window.addEventListener("dragover", over);
    window.addEventListener("dragleave", leave);
    window.addEventListener("drop", drop);
    return () => {
      window.removeEventListener("dragenter", enter);
      window.removeEventListener("dragover", over);
      window.removeEventListener("dragleave", leave);
      window.removeEventListener("drop", drop);
    };
  }, [enabled, add]);

  const api = useMemo(() => ({ queue, pick, add }), [queue, pick, add]);
  return (
    <Ctx.Provider value={api}>
      {children}
      <input
        ref={input}
        type="file"
        multiple
        hidden
        data-testid="file-input"
        aria-label={t("upload.pick")}
        onChange={(e) => {
          add(Array.from(e.currentTarget.files ?? []), pickTarget.current);
          e.currentTarget.multiple = true;
          pickTarget.current = { kind: "new" };
        }}
      />
      {dragging && (
        <div className="kumo-drop-overlay" role="presentation">
          <Paper shadow="xl" p="xl" radius="lg">
            <Group>
              <IconCloudUpload size={36} aria-hidden />
              <Text size="xl" fw={600}>{t("upload.dropHere")}</Text>
            </Group>
          </Paper>
        </div>
      )}
      <Panel queue={queue} />
    </Ctx.Provider>
  );
}

function Panel({ queue }: { queue: UploadQueue }) {
  const items = useSyncExternalStore(queue.subscribe, queue.getSnapshot);
  if (!items.length) return null;
  return (
    <Suspense fallback={null}>
      <UploadPanel queue={queue} />
    </Suspense>
  );
}
