/*
 * html: one self-contained page (report --format html).  It fetches nothing:
 * no src= or href= attribute, no font, no script but its own; the data is a
 * JSON object in the page and a small script draws it.
 *
 *   header     program, pid, time of the profile, live total, the peak
 *   over time  stacked areas of live bytes by site (the AT_CHART_SITES sites
 *              largest in any sample, then "other" = total - theirs), one
 *              point per sample of the interval series; the peak marked by a
 *              vertical line; hovering shows the nearest sample's exact
 *              bytes per site.  Without a series: a line saying how to get one
 *   flame      an icicle of live bytes by call chain, outermost frame on
 *              top (each chain's frames symbolized, inlined functions
 *              included); compile-time tags hang under "compile-time tags";
 *              hovering shows a frame's exact bytes, calls and share, a
 *              click zooms into it (click the top bar to go back)
 *   peak       the sites at the peak, if recorded
 *   top        every site (at most AT_TABLE_ROWS), file:line, exact bytes
 *
 * The charts are hand-written SVG and HTML (about 150 lines of script):
 * stacked areas, one marker and a hover readout are less code than binding
 * a charting library, and keep the page small.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../common/common.h"
#include "records.h"
#include "report_live.h"

#define AT_CHART_SITES 8
#define AT_TABLE_ROWS 500

/* A JSON string, safe inside <script>: '<' '>' '&' as \u escapes. */
static void jstr(FILE *out, const char *s)
{
	report_json_str(out, s, 1);
}

/* ---- the flame tree --------------------------------------------------- */

struct node {
	char *name;
	int64_t bytes, calls;
	struct node **kids;
	size_t nr, cap;
};

static struct node *child(struct node *n, const char *name)
{
	for (size_t i = 0; i < n->nr; i++)
		if (!strcmp(n->kids[i]->name, name))
			return n->kids[i];
	struct node *k = xcalloc(1, sizeof(*k));
	k->name = xstrdup(name);
	GROW(n->kids, n->cap, n->nr + 1);
	n->kids[n->nr++] = k;
	return k;
}

static int by_bytes(const void *a, const void *b)
{
	const struct node *x = *(struct node *const *)a, *y = *(struct node *const *)b;
	return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : strcmp(x->name, y->name);
}

static void emit_node(FILE *out, struct node *n)
{
	if (n->nr) /* no children: kids may be NULL */
		qsort(n->kids, n->nr, sizeof(*n->kids), by_bytes);
	fputc('[', out);
	jstr(out, n->name);
	fprintf(out, ",%" PRId64 ",%" PRId64 ",[", n->bytes, n->calls);
	size_t k = 0;
	for (size_t i = 0; i < n->nr; i++) {
		if (n->kids[i]->bytes <= 0)
			continue;
		if (k++)
			fputc(',', out);
		emit_node(out, n->kids[i]);
	}
	fputs("]]", out);
}

static void free_node(struct node *n)
{
	for (size_t i = 0; i < n->nr; i++)
		free_node(n->kids[i]);
	free(n->kids);
	free(n->name);
	free(n);
}

/* A frame's display name: "func (file:line)", or the symbol, or the object. */
static char *frame_name(const struct sym_frame *f, const char *object)
{
	const char *fn = f->func ? f->func : NULL;
	if (fn && f->file)
		return xasprintf("%s (%s:%u)", fn, f->file, f->line);
	if (fn)
		return xstrdup(fn);
	return xstrdup(object);
}

static struct node *build_flame(const struct profile *p, struct symbolizer *sym)
{
	struct node *root = xcalloc(1, sizeof(*root));
	root->name = xstrdup("all");
	for (size_t c = 0; c < p->nr_chains; c++) {
		const struct prof_chain *ch = &p->chains[c];
		if (ch->live_bytes <= 0)
			continue;
		struct node *n = root;
		n->bytes += ch->live_bytes;
		n->calls += ch->live_calls;
		for (unsigned int i = ch->nr_frames; i-- > 0;) { /* outermost first */
			const struct sym_loc *l = sym_get(sym, ch->frames[i].map, ch->frames[i].addr);
			for (unsigned int j = l->nr_frames; j-- > 0;) { /* inlined: outermost first */
				char *name = frame_name(&l->frames[j], l->object);
				n = child(n, name);
				free(name);
				n->bytes += ch->live_bytes;
				n->calls += ch->live_calls;
			}
		}
	}
	struct node *tags = NULL;
	for (size_t t = 0; t < p->nr_tags; t++) {
		const struct prof_tag *tg = &p->tags[t];
		if (tg->live_bytes <= 0)
			continue;
		if (!tags)
			tags = child(root, "compile-time tags");
		char *name = xasprintf("%s (%s:%u)%s%s%s", tg->func, tg->file, tg->line,
				       tg->module ? " [" : "", tg->module ? tg->module : "",
				       tg->module ? "]" : "");
		struct node *n = child(tags, name);
		free(name);
		n->bytes += tg->live_bytes;
		n->calls += tg->live_calls;
		tags->bytes += tg->live_bytes;
		tags->calls += tg->live_calls;
		root->bytes += tg->live_bytes;
		root->calls += tg->live_calls;
	}
	return root;
}

/* ---- the page --------------------------------------------------------- */

static const char page_head[] =
	"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	"<meta name=\"viewport\" content=\"width=device-width\">\n<title>alloctag</title>\n"
	"<style>\n"
	"body{font:13px/1.4 system-ui,sans-serif;margin:16px 24px;color:#222;background:#fff}\n"
	"h1{font-size:18px;margin:0 0 4px}h2{font-size:15px;margin:22px 0 6px}\n"
	".sub{color:#555}.note{color:#777;font-style:italic}\n"
	"table{border-collapse:collapse}td,th{padding:2px 10px 2px 0;text-align:left}\n"
	"td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\n"
	"tr:hover td{background:#f3f3f3}\n"
	"#chart{position:relative}#chart svg{display:block}\n"
	"#tip{position:absolute;pointer-events:none;background:rgba(255,255,255,.95);"
	"border:1px solid #999;padding:4px 6px;font-size:12px;display:none;white-space:nowrap}\n"
	"#legend span{display:inline-block;margin-right:14px}"
	"#legend i{display:inline-block;width:10px;height:10px;margin-right:4px}\n"
	"#flame{position:relative;overflow:hidden;border:1px solid #ddd}\n"
	"#flame div{position:absolute;height:17px;overflow:hidden;white-space:nowrap;"
	"font-size:11px;line-height:17px;padding-left:3px;box-sizing:border-box;"
	"border-right:1px solid #fff;border-bottom:1px solid #fff;cursor:pointer}\n"
	"#flame div:hover{filter:brightness(.85)}\n"
	"#finfo{height:18px;color:#333;margin:4px 0}\n"
	"</style></head><body>\n";

static const char page_script[] =
	"<script>\n"
	"'use strict';\n"
	"const C=['#4e79a7','#f28e2b','#e15759','#76b7b2','#59a14f','#edc948','#b07aa1',"
	"'#ff9da7','#9c755f','#bab0ac'];\n"
	"function hb(v){const u=['B','KiB','MiB','GiB','TiB'];let a=Math.abs(v),i=0;"
	"while(a>=1024&&i<4){a/=1024;i++}return (v<0?'-':'')+(i?a.toFixed(1):a)+' '+u[i]}\n"
	"function nf(v){return v.toLocaleString('en-US')}\n"
	"function esc(s){return String(s).replace(/[&<>\"]/g,c=>({'&':'&amp;','<':'&lt;',"
	"'>':'&gt;','\"':'&quot;'}[c]))}\n"
	"function ts(t){const d=new Date(t*1000);return d.toISOString().replace('T',' ')."
	"replace('Z',' UTC')}\n"
	"const NS='http://www.w3.org/2000/svg';\n"
	"function el(n,a,p){const e=document.createElementNS(NS,n);for(const k in a)"
	"e.setAttribute(k,a[k]);if(p)p.appendChild(e);return e}\n"
	"let drawn={areas:0,flame:0};\n"
	"function chart(){\n"
	" const box=document.getElementById('chart'),S=D.samples;\n"
	" if(!S.length){box.innerHTML='<p class=\"note\">No series in this profile: record one "
	"with <code>alloctag run --interval 100ms</code> (ALLOCTAG_INTERVAL).'+(D.peak?' The "
	"peak is listed below.':'')+'</p>';return}\n"
	" const W=Math.max(600,Math.min(1200,box.clientWidth||900)),H=300,L=70,R=10,T=10,B=30;\n"
	" const t0=S[0][0],t1=Math.max(S[S.length-1][0],t0+1e-3);\n"
	" let ymax=0;for(const s of S)ymax=Math.max(ymax,s[1]);if(D.peak)"
	"ymax=Math.max(ymax,D.peak.total);ymax=ymax*1.05||1;\n"
	" const x=t=>L+(t-t0)/(t1-t0)*(W-L-R),y=v=>T+(1-v/ymax)*(H-T-B);\n"
	" const svg=el('svg',{width:W,height:H,viewBox:'0 0 '+W+' '+H},box);\n"
	" for(let i=0;i<=4;i++){const v=ymax/1.05*i/4;el('line',{x1:L,x2:W-R,y1:y(v),y2:y(v),"
	"stroke:'#eee'},svg);const tx=el('text',{x:L-6,y:y(v)+4,'text-anchor':'end',"
	"'font-size':11,fill:'#555'},svg);tx.textContent=hb(Math.round(v))}\n"
	" for(let i=0;i<=5;i++){const t=t0+(t1-t0)*i/5;const tx=el('text',{x:x(t),y:H-10,"
	"'text-anchor':i==5?'end':'middle','font-size':11,fill:'#555'},svg);tx.textContent="
	"'+'+(t-t0).toFixed(t1-t0<10?2:0)+' s'}\n"
	" const n=D.series.length;let base=S.map(()=>0);\n"
	" for(let k=0;k<=n;k++){\n"
	"  const vals=S.map((s,i)=>k<n?s[2][k]:Math.max(0,s[1]-s[2].reduce((a,b)=>a+b,0)));\n"
	"  const top=base.map((b,i)=>b+vals[i]);\n"
	"  let d='M'+S.map((s,i)=>x(s[0]).toFixed(1)+','+y(top[i]).toFixed(1)).join('L');\n"
	"  for(let i=S.length-1;i>=0;i--)d+='L'+x(S[i][0]).toFixed(1)+','+y(base[i]).toFixed(1);\n"
	"  el('path',{d:d+'Z',fill:C[k%10],'fill-opacity':k<n?0.85:0.35,stroke:C[k%10],"
	"'stroke-width':0.5,class:'area'},svg);drawn.areas++;base=top}\n"
	" el('line',{x1:L,x2:L,y1:T,y2:H-B,stroke:'#999'},svg);"
	"el('line',{x1:L,x2:W-R,y1:H-B,y2:H-B,stroke:'#999'},svg);\n"
	" if(D.peak&&D.peak.time>=t0-1&&D.peak.time<=t1+1){const px=x(Math.min(t1,Math.max(t0,"
	"D.peak.time)));el('line',{x1:px,x2:px,y1:T,y2:H-B,stroke:'#d00','stroke-width':1.5,"
	"'stroke-dasharray':'5,3',id:'peakline'},svg);el('circle',{cx:px,cy:y(D.peak.total),"
	"r:4,fill:'#d00'},svg);const right=px>W-160;const tx=el('text',{x:right?px-6:px+6,"
	"y:T+12,'font-size':12,fill:'#d00','text-anchor':right?'end':'start'},svg);"
	"tx.textContent='peak '+hb(D.peak.total)+' at +'+(D.peak.time-t0).toFixed(2)+' s'}\n"
	" const cur=el('line',{x1:0,x2:0,y1:T,y2:H-B,stroke:'#333',visibility:'hidden'},svg);\n"
	" const tip=document.getElementById('tip');\n"
	" svg.addEventListener('mousemove',ev=>{const r=svg.getBoundingClientRect(),mx=ev.clientX"
	"-r.left;let b=0,bd=1e18;S.forEach((s,i)=>{const dd=Math.abs(x(s[0])-mx);if(dd<bd){bd=dd;"
	"b=i}});const s=S[b];cur.setAttribute('x1',x(s[0]));cur.setAttribute('x2',x(s[0]));"
	"cur.setAttribute('visibility','visible');let h='<b>'+esc(ts(s[0]))+'</b><br>total '+"
	"nf(s[1])+' B';D.series.forEach((nm,k)=>{h+='<br><i style=\"color:'+C[k%10]+'\">&#9632;"
	"</i> '+nf(s[2][k])+' B '+esc(nm)});const o=s[1]-s[2].reduce((a,c)=>a+c,0);h+='<br><i "
	"style=\"color:'+C[n%10]+'\">&#9632;</i> '+nf(o)+' B other';tip.innerHTML=h;"
	"tip.style.display='block';tip.style.left=Math.min(mx+14,W-260)+'px';"
	"tip.style.top='10px'});\n"
	" svg.addEventListener('mouseleave',()=>{tip.style.display='none';"
	"cur.setAttribute('visibility','hidden')});\n"
	" const lg=document.getElementById('legend');D.series.concat(['other']).forEach((nm,k)=>{"
	"lg.insertAdjacentHTML('beforeend','<span><i style=\"background:'+C[k%10]+'\"></i>'+"
	"esc(nm)+'</span>')})}\n"
	"function flame(){\n"
	" const box=document.getElementById('flame'),info=document.getElementById('finfo');\n"
	" const root=D.flame;if(!root||!root[1]){box.outerHTML='<p class=\"note\">No live "
	"memory.</p>';return}\n"
	" function depth(n){let d=0;for(const k of n[3])d=Math.max(d,depth(k));return d+1}\n"
	" function pathTo(n){const out=[];(function f(m,acc){if(m===n){out.push(...acc);"
	"return true}for(const k of m[3])if(f(k,acc.concat([m])))return true;return false})"
	"(root,[]);return out}\n"
	" function draw(focus){box.innerHTML='';const anc=pathTo(focus),W=box.clientWidth||900,"
	"RH=18;box.style.height=((anc.length+depth(focus))*RH+2)+'px';\n"
	"  function add(n,x0,w,row,isAnc){const e=document.createElement('div');"
	"e.style.left=x0+'px';e.style.width=w+'px';e.style.top=(row*RH)+'px';"
	"let h=0;for(const ch of n[0])h=(h*31+ch.charCodeAt(0))|0;"
	"e.style.background=isAnc?'#ddd':'hsl('+(10+Math.abs(h)%45)+',80%,'+"
	"(62+Math.abs(h>>8)%15)+'%)';e.textContent=n[0];"
	"const txt=n[0]+': '+nf(n[1])+' B ('+hb(n[1])+', '+(100*n[1]/root[1]).toFixed(2)+'%), '+"
	"nf(n[2])+' calls';e.title=txt;e.onmouseenter=()=>{info.textContent=txt};"
	"e.onclick=()=>draw(n);box.appendChild(e);drawn.flame++}\n"
	"  anc.forEach((a,i)=>add(a,0,W,i,true));\n"
	"  (function lay(n,x0,w,d){add(n,x0,w,d,false);let x=x0;for(const k of n[3]){"
	"const kw=w*k[1]/n[1];if(kw>=1)lay(k,x,kw,d+1);x+=kw}})(focus,0,W,anc.length)}\n"
	" draw(root)}\n"
	"chart();flame();\n"
	"function band(id){const e=document.querySelector(id);if(!e)return '-';const r="
	"e.getBoundingClientRect();return Math.round(r.top+scrollY)+'-'+Math.round(r.bottom+scrollY)}\n"
	"document.title='alloctag: '+D.exe+' (areas '+drawn.areas+', frames '+drawn.flame+"
	"', chart '+band('#chart svg')+', flame '+band('#flame')+')';\n"
	"</script>\n";

static void header(FILE *out, const struct profile *p, const struct sites *s)
{
	const struct live_records *r = p->live;
	char b[32], tb[64];
	fputs("<h1>alloctag: ", out);
	for (const char *c = p->exe ? p->exe : "?"; *c; c++)
		fprintf(out, strchr("<>&\"", *c) ? "&#%d;" : "%c", *c);
	fprintf(out, "</h1>\n<div class=\"sub\">pid %ld", p->pid);
	if (p->time)
		fprintf(out, ", profile of %s", live_time_text(strtod(p->time, NULL), tb, sizeof(tb)));
	fprintf(out, "; live %s (%" PRId64 " bytes) in %" PRId64 " allocations, %zu sites",
		human_bytes(s->live_bytes, b, sizeof(b)), s->live_bytes, s->live_calls, s->nr);
	if (r && live_peak_recorded(r))
		fprintf(out, "; peak %s (%" PRId64 " bytes) at %s",
			human_bytes(r->peak_total, b, sizeof(b)), r->peak_total,
			live_time_text(r->peak_time, tb, sizeof(tb)));
	else if (r && r->has_peak)
		fputs("; no peak of 1 MiB or more (the peak recorder's floor)", out);
	fputs("</div>\n", out);
}

static void html_text(FILE *out, const char *s)
{
	for (; *s; s++)
		fprintf(out, strchr("<>&\"", *s) ? "&#%d;" : "%c", *s);
}

/* bytes and calls as two cells, the exact bytes on hover */
static void count_cells(FILE *out, int64_t bytes, int64_t calls)
{
	char b[32];
	fprintf(out, "<td class=\"n\" title=\"%" PRId64 " bytes\">%s</td><td class=\"n\">%" PRId64
		     "</td>", bytes, human_bytes(bytes, b, sizeof(b)), calls);
}

/* one site's row: live bytes and calls, then (with_alloc) the bytes and
 * calls allocated since start */
static void site_row(FILE *out, const struct site *x, int64_t bytes, int64_t calls, int with_alloc)
{
	char name[512];
	live_site_text(x, name, sizeof(name));
	fputs("<tr>", out);
	count_cells(out, bytes, calls);
	if (with_alloc)
		count_cells(out, x->alloc_bytes, x->alloc_calls);
	fputs("<td>", out);
	html_text(out, name);
	fputs("</td></tr>\n", out);
}

int report_html(FILE *out, const struct profile *p, struct symbolizer *sym, struct sites *s)
{
	const struct live_records *r = p->live;
	sites_sort_by_bytes(s);
	size_t nmap = 0;
	long *map = r ? live_site_of_idx(r, s, &nmap) : NULL;

	/* the chart's sites: largest in any sample */
	size_t nsites = s->nr;
	int64_t *maxv = xcalloc(nsites + 1, sizeof(*maxv));
	for (size_t i = 0; r && i < r->nr_samples; i++)
		for (unsigned int k = 0; k < r->samples[i].nr; k++) {
			uint32_t idx = r->samples[i].idx[k];
			long site = idx < nmap ? map[idx] : -1;
			if (site >= 0 && r->samples[i].bytes[k] > maxv[site])
				maxv[site] = r->samples[i].bytes[k];
		}
	long chart[AT_CHART_SITES];
	size_t nchart = 0;
	for (size_t pick = 0; pick < AT_CHART_SITES; pick++) {
		long best = -1;
		for (size_t i = 0; i < nsites; i++) {
			int taken = 0;
			for (size_t j = 0; j < nchart; j++)
				taken |= chart[j] == (long)i;
			if (!taken && maxv[i] > 0 && (best < 0 || maxv[i] > maxv[best]))
				best = (long)i;
		}
		if (best < 0)
			break;
		chart[nchart++] = best;
	}

	fputs(page_head, out);
	header(out, p, s);
	fputs("<h2>Live bytes over time</h2>\n<div id=\"legend\"></div>\n"
	      "<div id=\"chart\"><div id=\"tip\"></div></div>\n"
	      "<h2>Live bytes by call chain</h2>\n<div id=\"finfo\">hover a frame for its exact "
	      "bytes; click to zoom</div>\n<div id=\"flame\"></div>\n",
	      out);

	if (r && r->has_peak) {
		char tb[64];
		struct at_peak_site *v;
		size_t n = live_peak_sites(p, s, &v);
		fprintf(out, "<h2>%s (%s)</h2>\n<table id=\"peak\"><tr><th class=\"n\">live"
			     "</th><th class=\"n\">calls</th><th>site</th></tr>\n",
			live_peak_recorded(r) ? "At the peak" : "When the profile was written",
			live_time_text(r->peak_time, tb, sizeof(tb)));
		for (size_t i = 0; i < n && i < AT_TABLE_ROWS; i++) {
			if (v[i].site >= 0) {
				site_row(out, &s->v[v[i].site], v[i].bytes, v[i].calls, 0);
			} else {
				char b[32];
				fprintf(out, "<tr><td class=\"n\">%s</td><td class=\"n\">%" PRId64
					     "</td><td>tag index %u (not in the profile)</td></tr>\n",
					human_bytes(v[i].bytes, b, sizeof(b)), v[i].calls, v[i].idx);
			}
		}
		fputs("</table>\n", out);
		free(v);
	}

	fputs("<h2>Top sites</h2>\n<table id=\"top\"><tr><th class=\"n\">live</th><th class=\"n\">"
	      "calls</th><th class=\"n\">allocated</th><th class=\"n\">calls</th><th>site</th></tr>\n",
	      out);
	for (size_t i = 0; i < s->nr && i < AT_TABLE_ROWS; i++)
		site_row(out, &s->v[i], s->v[i].live_bytes, s->v[i].live_calls, 1);
	if (s->nr > AT_TABLE_ROWS)
		fprintf(out, "<tr><td colspan=\"5\" class=\"note\">%zu more sites (alloctag report "
			     "--format top lists them all)</td></tr>\n", s->nr - AT_TABLE_ROWS);
	fputs("</table>\n", out);

	/* the data */
	fputs("<script>\nconst D={\"exe\":", out);
	jstr(out, p->exe ? p->exe : "?");
	fputs(",\"series\":[", out);
	for (size_t j = 0; j < nchart; j++) {
		char name[512];
		live_site_text(&s->v[chart[j]], name, sizeof(name));
		if (j)
			fputc(',', out);
		jstr(out, name);
	}
	fputs("],\"samples\":[", out);
	for (size_t i = 0; r && i < r->nr_samples; i++) {
		const struct sample *sm = &r->samples[i];
		fprintf(out, "%s[%.6f,%" PRId64 ",[", i ? "," : "", sm->time, sm->total);
		for (size_t j = 0; j < nchart; j++) {
			int64_t v = 0;
			for (unsigned int k = 0; k < sm->nr; k++) {
				uint32_t idx = sm->idx[k];
				if (idx < nmap && map[idx] == chart[j])
					v += sm->bytes[k];
			}
			fprintf(out, "%s%" PRId64, j ? "," : "", v);
		}
		fputs("]]", out);
	}
	fputs("],\"peak\":", out);
	if (r && live_peak_recorded(r)) /* the writing moment is no peak to mark */
		fprintf(out, "{\"time\":%.6f,\"total\":%" PRId64 "}", r->peak_time, r->peak_total);
	else
		fputs("null", out);
	fputs(",\"flame\":", out);
	struct node *root = build_flame(p, sym);
	emit_node(out, root);
	free_node(root);
	fputs("};\n</script>\n", out);
	fputs(page_script, out);
	fputs("</body></html>\n", out);
	free(maxv);
	free(map);
	return 0;
}
