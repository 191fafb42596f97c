// A deterministic message corpus for the search benchmark: mixed English and Chinese sales chatter with
// query terms planted at known rates, spread unevenly over a tenant's group conversations.
//
// Background sentences are built from vocabularies that contain none of the query terms; the terms enter
// only through the planted phrases below (plus whatever the generator happens to form, e.g. 客户 is also
// part of background words). Every generated message is counted against every query term with the same
// rule the index applies (case-insensitive substring of the searchable text), so the reported corpus
// frequencies are exact, whatever the planting rates.

// Node strips the types of this module, which imports nothing at run time: the bench counts with the
// very function the mirror indexes with.
import { searchableText } from "../../src/domain/search.ts";

/** sfc32: small, fast, deterministic. */
export function rng(seed) {
  let a = 0x9e3779b9 ^ seed, b = 0x243f6a88, c = 0xb7e15162, d = seed | 0;
  const next = () => {
    a |= 0; b |= 0; c |= 0; d |= 0;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 16; i++) next();
  return next;
}

const EN = {
  subject: ["I", "We", "The team", "Finance", "Legal", "Our champion", "Their CTO", "Procurement", "Marketing", "Support", "Sarah", "Tom", "The buyer", "Ops", "Priya", "Kenji"],
  verb: ["will review", "just sent over", "still needs", "is waiting on", "approved", "pushed back on", "asked about", "updated", "shared", "scheduled", "signed off on", "wants changes to", "is reading", "forwarded"],
  object: [
    "the proposal", "the contract draft", "the quote", "the demo recording", "the security questionnaire", "the onboarding plan",
    "the budget", "the pricing sheet", "the SOW", "the purchase order", "the meeting notes", "the case study", "the integration spec",
    "the discount request", "the slide deck", "the trial extension", "the MSA redlines", "the usage report",
  ],
  tail: ["by Friday", "tomorrow morning", "before the QBR", "this week", "after lunch", "next quarter", "asap", "for Acme", "for Globex", "for Initech", "for Umbrella", "before end of month", "today", "if possible", "once legal is done", "when they get back"],
  chatter: ["Thanks!", "Sounds good.", "Let me check.", "Can you join the call?", "ok", "Will do.", "Any update?", "Ping me when ready.", "Great news!", "Looping in Dave.", "On it.", "Call me after 5."],
};

const ZH = {
  subject: ["我", "我们", "销售团队", "财务部", "法务", "采购部门", "王经理", "李总", "张工", "市场部", "技术支持", "对方老板"],
  verb: ["已经发了", "明天会看", "还在等", "确认了", "需要修改", "同意了", "在讨论", "会处理", "安排了", "更新了", "签字了", "想再聊聊"],
  object: ["方案", "合同草稿", "产品演示", "预算", "会议纪要", "价格表", "采购订单", "技术评估", "上线计划", "安全问卷", "折扣申请", "试用延期", "客户反馈", "需求文档", "老客户的名单"],
  tail: ["下周一之前", "今天下午", "这个季度", "月底前", "尽快", "明早", "会后", "周五", "晚点再说", ""],
  chatter: ["好的", "收到", "谢谢", "辛苦了", "马上看", "稍等", "开会了", "没问题", "我问一下", "已经安排"],
};

const COMPANIES = ["Acme Corp", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "腾达科技", "华信集团", "远航物流", "星海医疗"];
const CONTACTS = ["Sarah Lee", "Tom Becker", "Priya Nair", "Kenji Sato", "王伟", "李娜", "张敏", "刘洋"];
const STAGES = ["Qualification", "Discovery", "Proposal", "Negotiation", "Closed Won", "初步接洽", "方案阶段", "商务谈判"];

/**
 * The query terms and how often a phrase carrying each is planted (probability per message). `only`
 * restricts planting to conversations the benchmark user is not a member of: those terms have many
 * matches and no visible hits, the worst case for a search that joins membership after the index.
 */
export const TERMS = [
  // 3+ characters: the trigram index.
  { term: "forecast", kind: "3+ chars", rate: 0.05, phrases: ["the Q3 forecast looks light", "updated the forecast sheet", "Forecast call moved to 4pm", "can you send the forecast numbers"] },
  { term: "pipeline", kind: "3+ chars", rate: 0.02, phrases: ["pipeline review at 3pm", "added them to the pipeline", "Pipeline coverage is only 2x", "clean up your pipeline before Monday"] },
  { term: "renewal", kind: "3+ chars", rate: 0.005, phrases: ["their renewal is due in May", "renewal pricing is attached", "Renewal risk flagged"] },
  { term: "escalation", kind: "3+ chars", rate: 0.001, phrases: ["support escalation opened", "Escalation is with the VP now"] },
  { term: "indemnity", kind: "3+ chars", rate: 0.0001, phrases: ["the indemnity clause needs legal", "Indemnity cap at 2x fees"] },
  { term: "跟进客户", kind: "3+ chars", rate: 0.03, phrases: ["记得跟进客户", "今天要跟进客户的反馈", "跟进客户的付款进度"] },
  { term: "合同续签", kind: "3+ chars", rate: 0.003, phrases: ["合同续签的事下周谈", "合同续签已经提交审批"] },
  { term: "反洗钱", kind: "3+ chars", rate: 0.0001, phrases: ["反洗钱审查还没过", "对方要求反洗钱材料"] },
  // 2 CJK characters: the grams index.
  { term: "客户", kind: "2-char CJK", rate: 0.02, phrases: ["客户很满意", "客户要求下周演示"] },
  { term: "报价", kind: "2-char CJK", rate: 0.02, phrases: ["新报价已经发出", "报价单在附件里", "对方嫌报价太高"] },
  { term: "线索", kind: "2-char CJK", rate: 0.005, phrases: ["又来了一个新线索", "线索已经分配给小王", "展会线索整理好了"] },
  { term: "并购", kind: "2-char CJK", rate: 0.0001, phrases: ["他们公司在谈并购", "并购之后预算冻结了"] },
  // Many matches, all in conversations the benchmark user is not in: zero hits after a full scan.
  { term: "sandbox", kind: "not a member", rate: 0.03, only: "non-member", phrases: ["sandbox is down again", "reset the sandbox tenant"] },
  { term: "审计", kind: "not a member", rate: 0.03, only: "non-member", phrases: ["年度审计开始了", "审计要这些材料"] },
];

/** Queries of several terms (trigram AND grams): counted too. */
export const COMBOS = [
  { q: "pipeline 报价", kind: "3+ chars AND 2-char", terms: ["pipeline", "报价"] },
  { q: "forecast 客户", kind: "3+ chars AND 2-char", terms: ["forecast", "客户"] },
];

/** The "first week only" queries search [startTs, startTs + EARLY_DAYS days): the oldest messages. */
export const EARLY_DAYS = 7;
/** The "last 30 days" queries search the newest LATE_DAYS days of the corpus. */
export const LATE_DAYS = 30;
/** The corpus spans one year from here (message ts grows with mirror order). */
export const START_TS = Date.UTC(2025, 0, 1);

const CJK_TERM = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;

/** What search sees of a body: the server's own rule (src/domain/search.ts), so the counts match the index. */
export const searchableTextOf = searchableText;

/** Does `text` match `term` as the index does (trigram: case-insensitive substring; a CJK pair: substring)? */
export function matches(textLower, term) {
  return textLower.includes(term.toLowerCase());
}

/**
 * The tenant: `conversations` groups with uneven traffic (Zipf-like weights), the benchmark user a member
 * of all but `nonMember` of them (spread over big and small ones), `users` other users.
 */
export function tenantPlan({ seed = 1, conversations = 50, nonMember = 10, users = 200 }) {
  const r = rng(seed * 7919 + 1);
  const userIds = Array.from({ length: users }, (_, i) => `u${String(i).padStart(3, "0")}`);
  const convs = [];
  const step = conversations / nonMember;
  const nonMemberIdx = new Set(Array.from({ length: nonMember }, (_, k) => Math.floor(1 + k * step) % conversations));
  for (let i = 0; i < conversations; i++) {
    const size = 5 + Math.floor(r() * 30);
    const members = new Set();
    while (members.size < size) members.add(userIds[Math.floor(r() * users)]);
    convs.push({
      index: i,
      name: `Deal room ${String(i + 1).padStart(2, "0")}`,
      weight: 1 / Math.pow(i + 1, 0.8),
      analystMember: !nonMemberIdx.has(i),
      // A second user, in two small conversations only: most matches are not theirs.
      newbieMember: i === conversations - 1 || i === conversations - 3,
      members: [...members],
    });
  }
  const total = convs.reduce((s, c) => s + c.weight, 0);
  for (const c of convs) c.share = c.weight / total;
  return { userIds, conversations: convs };
}

/**
 * The message stream. next() returns { conv, row } in mirror order: row is what a conversation object
 * stores (seq, clientId, sender, kind, body as JSON text, ts, version). Counts of every term accumulate
 * in `counts`: { [term]: { all, visible } } (visible: in a conversation the benchmark user is in).
 */
export class Corpus {
  constructor({ plan, total, seed = 1, startTs = START_TS, spanMs = 365 * 86_400_000, textOnly = false, analyst = "analyst" }) {
    this.plan = plan;
    this.total = total;
    this.r = rng(seed);
    this.k = 0;
    this.startTs = startTs;
    this.spanMs = spanMs;
    this.textOnly = textOnly;
    this.analyst = analyst;
    this.seqs = new Map();
    this.cdf = [];
    let acc = 0;
    for (const c of plan.conversations) {
      acc += c.share;
      this.cdf.push(acc);
    }
    this.earlyBefore = startTs + EARLY_DAYS * 86_400_000;
    this.lateFrom = startTs + spanMs - LATE_DAYS * 86_400_000;
    this.counts = {};
    for (const t of TERMS) this.counts[t.term] = { all: 0, visible: 0, newbie: 0, earlyVisible: 0, lateVisible: 0 };
    for (const c of COMBOS) this.counts[c.q] = { all: 0, visible: 0, newbie: 0, earlyVisible: 0, lateVisible: 0 };
    this.kinds = {};
    this.languages = { en: 0, zh: 0, mixed: 0 };
    this.textChars = 0;
    this.bodyBytes = 0;
  }

  pick(list) {
    return list[Math.floor(this.r() * list.length)];
  }

  english() {
    const r = this.r();
    if (r < 0.15) return this.pick(EN.chatter);
    const s = `${this.pick(EN.subject)} ${this.pick(EN.verb)} ${this.pick(EN.object)} ${this.pick(EN.tail)}.`;
    return r < 0.5 ? `${s} ${this.pick(EN.subject)} ${this.pick(EN.verb)} ${this.pick(EN.object)}.` : s;
  }

  chinese() {
    const r = this.r();
    if (r < 0.15) return this.pick(ZH.chatter);
    const s = `${this.pick(ZH.subject)}${this.pick(ZH.verb)}${this.pick(ZH.object)}${this.pick(ZH.tail)}。`;
    return r < 0.5 ? `${s}${this.pick(ZH.subject)}${this.pick(ZH.verb)}${this.pick(ZH.object)}，${this.pick(ZH.chatter)}。` : s;
  }

  sentence() {
    const r = this.r();
    if (r < 0.5) {
      this.languages.en++;
      return this.english();
    }
    if (r < 0.85) {
      this.languages.zh++;
      return this.chinese();
    }
    this.languages.mixed++;
    return this.r() < 0.5 ? `${this.english()} ${this.chinese()}` : `${this.chinese()} ${this.english()}`;
  }

  /** The sentence plus the phrases of the terms planted in this message. */
  content(conv) {
    let text = this.sentence();
    for (const t of TERMS) {
      // textOnly streams feed live rooms the benchmark user is in: keep "not a member" terms out of them.
      if (t.only === "non-member" && (conv.analystMember || this.textOnly)) continue;
      if (this.r() < t.rate) {
        const phrase = this.pick(t.phrases);
        text = CJK_TERM.test(phrase) ? `${text}${phrase}。` : `${text} ${phrase}.`;
      }
    }
    return text;
  }

  body(k, conv) {
    const r = this.textOnly ? 0 : this.r();
    const text = this.content(conv);
    if (r < 0.88) return { kind: "text", body: { text } };
    if (r < 0.93) {
      return {
        kind: "crm",
        body: {
          source: "salesforce",
          objectType: "Opportunity",
          objectId: `006${String(k).padStart(12, "0")}`,
          event: "stage_changed",
          title: text,
          company: this.pick(COMPANIES),
          contact: this.pick(CONTACTS),
          amount: Math.round(this.r() * 500) * 1000,
          currency: "USD",
          stage: this.pick(STAGES),
        },
      };
    }
    if (r < 0.96) {
      return { kind: "approval", body: { title: text, details: this.sentence(), approvers: [this.pick(conv.members)], amount: Math.round(this.r() * 100) * 100, currency: "CNY" } };
    }
    if (r < 0.98) {
      const d = new Date(this.startTs + (k / this.total) * this.spanMs).toISOString().slice(0, 10);
      return { kind: "log", body: { date: d, done: [text], planned: [this.sentence()], blockers: [] } };
    }
    return {
      kind: "file",
      body: { attachment: { id: `f${k}`, name: `${this.pick(COMPANIES)} ${this.pick(["notes", "deck", "quote", "报告", "合同"])}.pdf`, size: Math.floor(this.r() * 5e6), contentType: "application/pdf" }, caption: text },
    };
  }

  next() {
    const k = this.k++;
    const x = this.r();
    let i = 0;
    while (i < this.cdf.length - 1 && this.cdf[i] < x) i++;
    const conv = this.plan.conversations[i];
    const seq = (this.seqs.get(i) ?? 0) + 1;
    this.seqs.set(i, seq);
    const { kind, body } = this.body(k, conv);
    const searchable = searchableText(kind, body).toLowerCase();
    const ts = this.startTs + Math.floor((k / this.total) * this.spanMs);
    const tally = (c) => {
      c.all++;
      if (conv.analystMember) c.visible++;
      if (conv.newbieMember) c.newbie++;
      if (conv.analystMember && ts < this.earlyBefore) c.earlyVisible++;
      if (conv.analystMember && ts >= this.lateFrom) c.lateVisible++;
    };
    for (const t of TERMS) if (matches(searchable, t.term)) tally(this.counts[t.term]);
    for (const c of COMBOS) if (c.terms.every((t) => matches(searchable, t))) tally(this.counts[c.q]);
    this.kinds[kind] = (this.kinds[kind] ?? 0) + 1;
    const bodyJson = JSON.stringify(body);
    this.textChars += searchable.length;
    this.bodyBytes += bodyJson.length;
    const sender = conv.analystMember && this.r() < 0.1 ? this.analyst : conv.members[Math.floor(this.r() * conv.members.length)];
    return { conv: i, row: { seq, clientId: `m${k}`, sender, kind, body: bodyJson, ts, version: 1 }, text: body.text };
  }
}
