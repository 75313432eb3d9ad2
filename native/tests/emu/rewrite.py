#!/usr/bin/env python3
"""Rewrites a .cu file for the emulator:
 - kernel<<<g, b, smem, stream>>>(args)  ->  emu::Launcher(g, b, smem, stream).run("kernel", bound, kernel, args)
   (a template kernel's name carries its arguments' values: see launch_name)
 - extern __shared__ T name[];           ->  T* name = reinterpret_cast<T*>(emu::dyn_smem());
 - __shared__ T a[..], b[..];            ->  static T a[..], b[..]; emu::poison_shared(a, sizeof(a)); ...
   (block-shared statics, 0xFF-poisoned once per block by the first thread to get there)
 - __launch_bounds__(N, ...) before a kernel name: N is checked at each launch of that kernel."""
import re, sys

src = open(sys.argv[1]).read()
s = src

# __launch_bounds__ per kernel name.
bounds = {}
for m in re.finditer(r'__launch_bounds__\(', s):
    i = m.end(); depth = 1; j = i
    while depth:
        if s[j] == '(': depth += 1
        elif s[j] == ')': depth -= 1
        j += 1
    inner = s[i:j - 1]
    d = 0; first = inner
    for k, ch in enumerate(inner):
        if ch in '(<': d += 1
        elif ch in ')>': d -= 1
        elif ch == ',' and d == 0:
            first = inner[:k]; break
    nm = re.match(r'\s*([A-Za-z_]\w*)\s*\(', s[j:])
    if nm: bounds[nm.group(1)] = first.strip()

s = re.sub(r'extern\s+__shared__\s+(?:__align__\(\d+\)\s+)?([\w:]+)\s+(\w+)\s*\[\s*\]\s*;',
           r'\1* \2 = reinterpret_cast<\1*>(emu::dyn_smem());', s)

def shared_decl(m):
    indent, body = m.group(1), m.group(2)
    # split declarators at top-level commas
    decls, d, cur = [], 0, ''
    for ch in body:
        if ch in '[(': d += 1
        elif ch in '])': d -= 1
        if ch == ',' and d == 0:
            decls.append(cur); cur = ''
        else:
            cur += ch
    decls.append(cur)
    names = []
    for dcl in decls:
        stripped = re.sub(r'\[[^\[\]]*\]', '', dcl)
        stripped = stripped.split('=')[0]
        ids = re.findall(r'[A-Za-z_]\w*', stripped)
        names.append(ids[-1])
    poison = ' '.join('emu::poison_shared(&%s, sizeof(%s));' % (n, n) for n in names)
    return '%sstatic %s; %s' % (indent, body, poison)

s = re.sub(r'(^[ \t]*)__shared__\s+([^;]*);', shared_decl, s, flags=re.M)

def launch_name(kern):
    """The launch's kernel name as a C++ expression. A template kernel whose
    arguments are literals or k-prefixed constants (kTA, kBMt) is named with
    their values at run time (emu::kernel_name), e.g. gemm<128,true>, so the
    launch log names the instantiation that ran; anything else as written."""
    m = re.match(r'([A-Za-z_]\w*)<(.*)>$', kern, re.S)
    if not m:
        return '"%s"' % kern
    args = [a.strip() for a in m.group(2).split(',')]
    if not all(re.match(r'^(?:true|false|-?\d+|k[A-Z]\w*)$', a) for a in args):
        return '"%s"' % kern.replace('"', '')
    return 'emu::kernel_name("%s", {%s}).c_str()' % (m.group(1), ', '.join('emu::template_arg(%s)' % a for a in args))

def launch(m):
    kern, cfg = m.group(1), m.group(2)
    base = re.match(r'[A-Za-z_]\w*', kern).group(0)
    b = bounds.get(base, '0')
    return 'emu::Launcher(%s).run(%s, int(%s), %s, ' % (cfg, launch_name(kern), b, kern)

s = re.sub(r'([A-Za-z_][A-Za-z0-9_]*(?:<[^<>;]*>)?)\s*<<<(.*?)>>>\s*\(', launch, s, flags=re.S)
out = '#line 1 "%s"\n' % sys.argv[1] + s
import os
if not os.path.exists(sys.argv[2]) or open(sys.argv[2]).read() != out:
    open(sys.argv[2], 'w').write(out)
