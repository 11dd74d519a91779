// A document's thumbnail (a presigned PNG on the storage origin), or the
// file icon when there is none or it fails to load. The box has a fixed
// size whatever happens, so rows never shift; the image loads lazily.
import { useState } from "react";
import { IconFileText } from "@tabler/icons-react";

export function Thumb({ url, alt, size }: { url: string | undefined; alt: string; size: number }) {
  const [failed, setFailed] = useState<string | null>(null);
  const show = !!url && failed !== url;
  return (
    <span className={show ? "kumo-thumb" : "kumo-thumb kumo-file-icon"} style={{ width: size, height: size }} aria-hidden={show ? undefined : true}>
      {show ? (
        <img src={url} alt={alt} width={size} height={size} loading="lazy" decoding="async" onError={() => setFailed(url)} data-testid="thumb" />
      ) : (
        <IconFileText size={Math.round(size * 0.55)} />
      )}
    </span>
  );
}
