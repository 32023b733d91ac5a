import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { chainHash, EMPTY_ROOT, leafHash, MerkleTree, nodeHash, rootFromProof, sortLeaves, treeRoot, treeRootInSlices, verifyInclusion, type ProofStep } from './merkle.ts';

const sha = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest();

/** The tree as RFC 6962 defines it, recursively, written apart from the module. */
function reference(leaves: Buffer[]): Buffer {
  if (leaves.length === 0) return sha();
  if (leaves.length === 1) return sha(Buffer.from([0]), leaves[0]!);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return sha(Buffer.from([1]), reference(leaves.slice(0, k)), reference(leaves.slice(k)));
}

const leavesOf = (n: number) => Array.from({ length: n }, () => randomBytes(32));

describe('the delivery Merkle tree', () => {
  it('gives the roots of RFC 6962 for its test leaves', () => {
    // the leaves and roots of the certificate transparency test vectors (leaves of any length)
    const data = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) => Buffer.from(h, 'hex'));
    const roots = [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
      'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
      '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
      '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
      'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
      '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
    ];
    const mth = (d: Buffer[]): Buffer => {
      if (d.length === 1) return leafHash(d[0]!);
      let k = 1;
      while (k * 2 < d.length) k *= 2;
      return nodeHash(mth(d.slice(0, k)), mth(d.slice(k)));
    };
    roots.forEach((root, i) => expect(mth(data.slice(0, i + 1)).toString('hex')).toBe(root));
    expect(EMPTY_ROOT.toString('hex')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('builds, bottom-up, the tree of the recursive definition for every size up to 70', () => {
    for (let n = 0; n <= 70; n++) {
      const sorted = sortLeaves(leavesOf(n));
      const leaves = Array.from({ length: n }, (_, i) => sorted.subarray(i * 32, (i + 1) * 32));
      const expected = reference(leaves);
      expect(treeRoot(sorted).equals(expected), `size ${n}`).toBe(true);
      expect(MerkleTree.of(sorted).root.equals(expected), `size ${n}`).toBe(true);
    }
  });

  it('knows small trees by heart', () => {
    const a = Buffer.alloc(32, 0x11);
    const b = Buffer.alloc(32, 0x22);
    const c = Buffer.alloc(32, 0x33);
    // one leaf: its leaf node
    expect(treeRoot(sortLeaves([a])).equals(sha(Buffer.from([0]), a))).toBe(true);
    // two: one inner node over the two leaf nodes, in bytewise order whatever order they came in
    const two = sha(Buffer.from([1]), sha(Buffer.from([0]), a), sha(Buffer.from([0]), b));
    expect(treeRoot(sortLeaves([b, a])).equals(two)).toBe(true);
    // three: (a b) c, the last leaf carried up
    expect(treeRoot(sortLeaves([c, a, b])).equals(sha(Buffer.from([1]), two, sha(Buffer.from([0]), c)))).toBe(true);
    // none: SHA-256 of nothing
    expect(treeRoot(Buffer.alloc(0)).equals(EMPTY_ROOT)).toBe(true);
    // a fixed tree, so a change of any of the rules shows here
    expect(treeRoot(sortLeaves([a, b, c])).toString('hex')).toBe(reference([a, b, c]).toString('hex'));
  });

  it('proves every leaf of trees of odd and even sizes, with sides', () => {
    for (const n of [1, 2, 3, 5, 7, 8, 9, 16, 17, 31, 33, 100]) {
      const tree = MerkleTree.of(sortLeaves(leavesOf(n)));
      for (let i = 0; i < n; i++) {
        const leaf = tree.leaf(i);
        const proof = tree.proof(i);
        expect(proof.length).toBeLessThanOrEqual(Math.ceil(Math.log2(Math.max(n, 1))));
        expect(verifyInclusion(leaf, proof, tree.root), `size ${n}, leaf ${i}`).toBe(true);
        expect(tree.indexOf(leaf)).toBe(i);
      }
    }
    // the only leaf of a tree of one needs no sibling
    const one = MerkleTree.of(sortLeaves(leavesOf(1)));
    expect(one.proof(0)).toEqual([]);
    // the last leaf of five climbs alone twice, then meets the first four
    const five = MerkleTree.of(sortLeaves(leavesOf(5)));
    expect(five.proof(4).map((s) => s.side)).toEqual(['left']);
    expect(five.proof(0).map((s) => s.side)).toEqual(['right', 'right', 'right']);
    expect(five.proof(3).map((s) => s.side)).toEqual(['left', 'left', 'right']);
  });

  it('refuses a tampered proof, leaf or root', () => {
    const tree = MerkleTree.of(sortLeaves(leavesOf(13)));
    const leaf = tree.leaf(6);
    const proof = tree.proof(6);
    expect(verifyInclusion(leaf, proof, tree.root)).toBe(true);
    const flipped = (b: Buffer) => {
      const c = Buffer.from(b);
      c[c.length - 1] = c[c.length - 1]! ^ 1;
      return c;
    };
    // a changed leaf, a changed sibling, a side swapped, a step dropped or added, another root
    expect(verifyInclusion(flipped(leaf), proof, tree.root)).toBe(false);
    expect(verifyInclusion(leaf, proof.map((s, i) => (i === 1 ? { ...s, hash: flipped(s.hash) } : s)), tree.root)).toBe(false);
    expect(verifyInclusion(leaf, proof.map((s, i): ProofStep => (i === 0 ? { ...s, side: s.side === 'left' ? 'right' : 'left' } : s)), tree.root)).toBe(false);
    expect(verifyInclusion(leaf, proof.slice(1), tree.root)).toBe(false);
    expect(verifyInclusion(leaf, [...proof, { side: 'right', hash: randomBytes(32) }], tree.root)).toBe(false);
    expect(verifyInclusion(leaf, proof, flipped(tree.root))).toBe(false);
    // a leaf of another tree, with its own proof, against this root
    const other = MerkleTree.of(sortLeaves(leavesOf(13)));
    expect(verifyInclusion(other.leaf(6), other.proof(6), tree.root)).toBe(false);
    // malformed: a short hash, a side that is neither
    expect(verifyInclusion(leaf, [{ side: 'left', hash: Buffer.alloc(31) }], tree.root)).toBe(false);
    expect(verifyInclusion(leaf, [{ side: 'up' as 'left', hash: Buffer.alloc(32) }], tree.root)).toBe(false);
  });

  it('changes its root when a leaf is added, removed or changed', () => {
    const leaves = leavesOf(10);
    const root = treeRoot(sortLeaves(leaves));
    expect(treeRoot(sortLeaves([...leaves, randomBytes(32)])).equals(root)).toBe(false);
    expect(treeRoot(sortLeaves(leaves.slice(1))).equals(root)).toBe(false);
    expect(treeRoot(sortLeaves([randomBytes(32), ...leaves.slice(1)])).equals(root)).toBe(false);
    // and not when they come in another order
    expect(treeRoot(sortLeaves([...leaves].reverse())).equals(root)).toBe(true);
  });

  it('a leaf node never passes for an inner node (domain separation)', () => {
    // the two leaf nodes of a tree of two, given as if they were one 64-byte leaf, do not give its root
    const [a, b] = [randomBytes(32), randomBytes(32)].sort(Buffer.compare) as [Buffer, Buffer];
    const root = treeRoot(Buffer.concat([a, b]));
    expect(leafHash(Buffer.concat([leafHash(a), leafHash(b)])).equals(root)).toBe(false);
    expect(rootFromProof(Buffer.concat([leafHash(a), leafHash(b)]), []).equals(root)).toBe(false);
  });

  it('refuses leaves that are not 32 bytes, or out of order, or repeated', () => {
    expect(() => sortLeaves([Buffer.alloc(31)])).toThrow();
    expect(() => treeRoot(Buffer.alloc(33))).toThrow();
    const [a, b] = [Buffer.alloc(32, 1), Buffer.alloc(32, 2)];
    expect(() => MerkleTree.of(Buffer.concat([b, a]))).toThrow(/order/);
    expect(() => MerkleTree.of(Buffer.concat([a, a]))).toThrow(/order/);
    expect(MerkleTree.of(Buffer.concat([a, b])).indexOf(Buffer.alloc(32, 3))).toBe(-1);
    expect(() => MerkleTree.of(Buffer.concat([a, b])).proof(2)).toThrow(RangeError);
  });

  it('chains each delivery to the one before', () => {
    const r1 = treeRoot(sortLeaves(leavesOf(3)));
    const r2 = treeRoot(sortLeaves(leavesOf(4)));
    const count = Buffer.alloc(8);
    count.writeBigUInt64BE(3n);
    const c1 = chainHash(null, r1, 3);
    expect(c1.equals(sha(Buffer.from([2]), Buffer.alloc(32), r1, count))).toBe(true);
    const c2 = chainHash(c1, r2, 4);
    count.writeBigUInt64BE(4n);
    expect(c2.equals(sha(Buffer.from([2]), c1, r2, count))).toBe(true);
    // every part matters: the count, the previous root, the tree
    expect(chainHash(c1, r2, 5).equals(c2)).toBe(false);
    expect(chainHash(null, r2, 4).equals(c2)).toBe(false);
    expect(chainHash(c1, r1, 4).equals(c2)).toBe(false);
    expect(() => chainHash(null, r1, -1)).toThrow();
    expect(() => chainHash(Buffer.alloc(3), r1, 1)).toThrow();
  });

  it('builds the same tree in slices, letting other work run between them', async () => {
    for (const n of [0, 1, 5, 1023, 1024, 1025, 5000]) {
      const sorted = sortLeaves(leavesOf(n));
      expect((await treeRootInSlices(sorted)).equals(treeRoot(sorted)), `size ${n}`).toBe(true);
      const tree = await MerkleTree.inSlices(sorted);
      expect(tree.root.equals(treeRoot(sorted))).toBe(true);
      if (n > 0) expect(verifyInclusion(tree.leaf(n - 1), tree.proof(n - 1), tree.root)).toBe(true);
    }
    // while 100,000 leaves are hashed, a timer set at the start fires long before the end
    const sorted = sortLeaves(leavesOf(100_000));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      await MerkleTree.inSlices(sorted);
    } finally {
      clearInterval(timer);
    }
    expect(ticks).toBeGreaterThan(5);
    await expect(MerkleTree.inSlices(Buffer.concat([Buffer.alloc(32, 2), Buffer.alloc(32, 1)]))).rejects.toThrow(/order/);
  });

  it('builds the tree of 100,000 leaves in seconds at most', () => {
    const sorted = sortLeaves(leavesOf(100_000));
    const started = performance.now();
    expect(treeRoot(sorted).length).toBe(32);
    // alone on a shared two-core machine, 0.3 to 0.6 s, and several times that under the whole
    // suite: the bound only catches a slip to a quadratic way, which would take minutes
    expect(performance.now() - started).toBeLessThan(20_000);
  });
});
