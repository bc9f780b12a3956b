// One IndexedDB record a device keeps for its pages: the kiosk's pairing (kiosk-session.js)
// or the teacher's sign-in (register-session.js), each in a database of its own. A strict
// durability transaction: a credential the page said it saved survives a power cut.

const STORE = "credentials";

function done(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function withStore(dbName, mode, fn) {
  const open = indexedDB.open(dbName, 1);
  open.onupgradeneeded = () => open.result.createObjectStore(STORE);
  const db = await done(open);
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode, { durability: "strict" });
      let result;
      tx.oncomplete = () => resolve(result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error ?? new Error("IndexedDB transaction aborted"));
      done(fn(tx.objectStore(STORE))).then((value) => {
        result = value;
      }, reject);
    });
  } finally {
    db.close();
  }
}

/** The record under `key` in database `dbName`, or undefined. */
export function loadRecord(dbName, key) {
  return withStore(dbName, "readonly", (store) => store.get(key));
}

/** Puts `record` under `key` in database `dbName`, replacing what was there. */
export function saveRecord(dbName, key, record) {
  return withStore(dbName, "readwrite", (store) => store.put(record, key));
}
